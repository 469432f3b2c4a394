"""Loggers and logger set-up that survive resume: an appending CSV logger, W&B run handling."""
