"""depix: learned depixelization (undoing mosaic redaction) with Lightning + Hydra."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """Lazy ``depix.restore``: importing ``depix`` stays light (no torch) until it is used."""
    if name == "restore":
        import importlib

        return importlib.import_module("depix.restore")
    raise AttributeError(f"module 'depix' has no attribute {name!r}")
