from __future__ import annotations

import numpy as np
import pytest

from nakt_edge.labeling.filters import assess, entropy_bits, is_soft, min_pixels_for, quantize


def test_entropy_by_hand() -> None:
    binary = np.zeros((16, 16), np.uint8)
    binary[:8] = 255  # two levels, half each: 1 bit
    assert entropy_bits(binary) == pytest.approx(1.0)
    ramp = np.arange(256, dtype=np.uint8).reshape(16, 16)  # uniform over 256 levels: 8 bits
    assert entropy_bits(ramp) == pytest.approx(8.0)
    two_level = np.zeros((4, 4), np.uint8)
    two_level[0, :] = 128  # levels 0 (3/4) and 128 (1/4): H = -(3/4 log2 3/4 + 1/4 log2 1/4)
    assert entropy_bits(two_level) == pytest.approx(0.811278, abs=1e-6)
    assert entropy_bits(np.zeros((4, 4), np.uint8)) == 0.0


def test_alpha_scales_the_papers_256_pixels_with_the_area() -> None:
    assert min_pixels_for(384, 384) == 256
    assert min_pixels_for(192, 192) == 64
    assert min_pixels_for(100, 100, min_fraction=0.01) == 100
    assert min_pixels_for(100, 100, min_pixels=7) == 7


def test_rules_and_reasons() -> None:
    ramp = quantize(np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1)))  # soft, ~6 bits, 2048 px > 0.5
    assert is_soft(ramp)
    assert assess(ramp, 100, 2.5).reason == "high_entropy"
    assert assess(ramp, 100, None).kept
    assert assess(ramp, 5000, 2.5).reason == "few_pixels"
    binary = np.zeros((64, 64), np.uint8)
    binary[:, :32] = 255
    verdict = assess(binary, 100, 0.5)  # 1 bit > 0.5, but the entropy rule applies only to soft masks
    assert verdict.kept and verdict.target_pixels == 2048 and not verdict.soft
    off = assess(ramp, 5000, 2.5, enabled=False)
    assert off.kept and off.reason == "kept" and off.entropy_bits > 5
