"""depix: learned depixelization (undoing mosaic redaction) with Lightning + Hydra."""

__version__ = "0.1.0"
