"""Degradations applied on the device to clean batches: pixelation and what real tools add."""

from depix.degrade.mosaic import block_index, mosaic

__all__ = ["block_index", "mosaic"]
