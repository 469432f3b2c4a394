"""Networks, the LightningModule that trains them, and loading of trained models."""
