from __future__ import annotations

import numpy as np
import torch

from nakt_edge.data.augment import AugmentConfig, PairAugmenter


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    mask = torch.zeros(1, 48, 48)
    mask[:, 10:20, 5:30] = 1.0
    return mask.clone(), mask


def test_geometric_transforms_move_image_and_mask_together() -> None:
    config = AugmentConfig(gamma=(1.0, 1.0), contrast=(1.0, 1.0), p=1.0)
    augmenter = PairAugmenter(config, seed=3)
    for _ in range(20):
        image, mask = augmenter(*_pair())
        assert torch.allclose(image, mask, atol=1e-5)


def test_each_transform_changes_something_and_a_seed_reproduces_it() -> None:
    first = [PairAugmenter(seed=7)(*_pair()) for _ in range(1)][0]
    again = PairAugmenter(seed=7)(*_pair())
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    changed = [not torch.equal(PairAugmenter(seed=s)(*_pair())[1], _pair()[1]) for s in range(10)]
    assert any(changed)


def test_photometric_ranges_follow_the_paper() -> None:
    image = torch.full((1, 8, 8), 0.5)
    image[:, :4] = 0.25
    config = AugmentConfig(crop_keep=(1.0, 1.0), flip=False, rotation_deg=0.0, contrast=(1.0, 1.0), p=1.0)
    outs = [PairAugmenter(config, seed=s)(image, torch.zeros(1, 8, 8))[0] for s in range(50)]
    # gamma g in [0.7, 1.3] maps 0.5 to 0.5 ** g
    values = np.array([float(o[0, -1, -1]) for o in outs])
    assert values.min() >= 0.5 ** 1.3 - 1e-6 and values.max() <= 0.5 ** 0.7 + 1e-6
    assert values.max() - values.min() > 0.1
