from __future__ import annotations

import torch

from nakt_edge.training.losses import DiceBCELoss


def test_loss_is_small_for_a_confident_correct_prediction_and_large_otherwise() -> None:
    target = torch.zeros(2, 1, 8, 8)
    target[:, :, 2:6, 2:6] = 1
    good = (target * 2 - 1) * 20
    loss = DiceBCELoss()
    assert float(loss(good, target)) < 1e-3
    assert float(loss(-good, target)) > 1.9


def test_soft_targets_are_accepted_and_gradients_flow() -> None:
    logits = torch.zeros(1, 1, 4, 4, requires_grad=True)
    target = torch.full((1, 1, 4, 4), 0.3)
    DiceBCELoss()(logits, target).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
