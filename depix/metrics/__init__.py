"""Metrics beyond torchmetrics' image metrics: OCR readability; float32 metric updates."""
