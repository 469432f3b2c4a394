"""Degradations applied on the device to clean batches: pixelation and what real tools add."""

from depix.degrade.averaging import MODES, pixelate_mode
from depix.degrade.mosaic import block_index, box_mask, mosaic

__all__ = ["MODES", "block_index", "box_mask", "mosaic", "pixelate_mode"]
