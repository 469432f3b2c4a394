"""Evaluation: benchmark conditions, baselines, metrics, reports (``depix-eval``)."""
