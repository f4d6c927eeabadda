"""Shared fixtures: tiny seeded phantom sets, a tiny trained run and its ONNX export.

Default tests use 64 px phantoms and width-0.125 U-Nets so the whole suite runs in minutes on
2 CPU cores. ``--runslow`` enables ``slow`` tests; ``gpu`` tests skip unless CUDA is usable.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may reach the network

import pytest  # noqa: E402

BUSI = Path(__file__).resolve().parents[2] / "shared" / "data" / "busi"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run tests marked slow")


def _cuda_usable() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    skip_gpu = pytest.mark.skip(reason="no usable CUDA GPU")
    gpu = None
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords:
            gpu = _cuda_usable() if gpu is None else gpu
            if not gpu:
                item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def phantom_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 breast phantoms at 64 px: images/, masks/, manifest.csv."""
    from nakt_edge.data.phantoms import write_phantom_set

    out = tmp_path_factory.mktemp("phantoms")
    write_phantom_set(out, 24, "breast", 64, seed=0)
    return out


@pytest.fixture(scope="session")
def tiny_run(phantom_set: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A width-0.125 U-Net trained for 2 epochs on the phantom set at 64 px."""
    from nakt_edge.config import TrainConfig
    from nakt_edge.training.train import train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    config = TrainConfig(size=64, epochs=2, batch_size=4, lr=1e-3, device="cpu")
    train(phantom_set / "images", phantom_set / "masks", "unet", out, width=0.125, config=config)
    return out


@pytest.fixture(scope="session")
def tiny_onnx(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nakt_edge.export.exporter import export_model

    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    export_model(tiny_run, out)
    return out


@pytest.fixture(scope="session")
def busi() -> Path:
    if not (BUSI / "manifest.csv").is_file():
        pytest.skip("BUSI data not present beside the checkout (../shared/data/busi)")
    return BUSI


@pytest.fixture(scope="session")
def foreign_teachers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Six ONNX teachers that differ like real foreign models (tests/runtime/foreign_teachers.py)."""
    from tests.runtime.foreign_teachers import build_foreign_teachers

    return build_foreign_teachers(tmp_path_factory.mktemp("foreign"))
