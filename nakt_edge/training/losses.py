"""The paper's loss: soft Dice loss + binary cross-entropy, equal weight, on one logit channel."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class DiceBCELoss(nn.Module):
    """``(1 - soft Dice) + BCE`` of logits (N, 1, H, W) against targets in [0, 1] (soft or hard).

    Dice is computed per image and averaged over the batch; ``smooth`` keeps an empty target
    with an empty prediction at loss ~0 instead of 0/0.
    """

    def __init__(self, dice_weight: float = 1.0, bce_weight: float = 1.0, smooth: float = 1.0) -> None:
        super().__init__()
        self.dice_weight = dice_weight
        self.bce_weight = bce_weight
        self.smooth = smooth

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        prob = torch.sigmoid(logits).flatten(1)
        flat_target = target.flatten(1)
        intersection = (prob * flat_target).sum(1)
        denominator = prob.sum(1) + flat_target.sum(1)
        dice = (2 * intersection + self.smooth) / (denominator + self.smooth)
        bce = F.binary_cross_entropy_with_logits(logits, target)
        return self.dice_weight * (1 - dice.mean()) + self.bce_weight * bce
