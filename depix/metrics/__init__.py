"""Metrics beyond torchmetrics' image metrics: OCR readability."""
