"""Losses as small modules with a ``loss_weight``, combined by ``CompositeLoss``."""

from depix.losses.composite import CompositeLoss
from depix.losses.perceptual import PerceptualLoss
from depix.losses.pixel import CharbonnierLoss, L1Loss

__all__ = ["CharbonnierLoss", "CompositeLoss", "L1Loss", "PerceptualLoss"]
