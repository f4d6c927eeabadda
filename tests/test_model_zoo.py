"""The model zoo in models/: every card names an ONNX file that is there, and it runs out of the box."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nakt_edge.cli import app

runner = CliRunner()
ZOO = Path(__file__).resolve().parents[1] / "models"
CARDS = sorted(ZOO.glob("*.json"))
KEYS = {"name", "file", "role", "architecture", "training_data", "recipe", "test", "latency", "code_licence",
        "dataset", "dataset_licence", "intended_use"}


def test_the_zoo_lists_its_models() -> None:
    result = runner.invoke(app, ["models", "--zoo"])
    assert result.exit_code == 0, result.output
    assert len(CARDS) >= 2 and all(json.loads(c.read_text())["name"] in result.output for c in CARDS)


@pytest.mark.parametrize("card", CARDS, ids=[c.stem for c in CARDS])
def test_each_card_is_complete_and_its_model_segments_a_frame(card: Path, phantom_set: Path, tmp_path: Path) -> None:
    entry = json.loads(card.read_text())
    assert KEYS <= set(entry) and (ZOO / entry["file"]).is_file() and (ZOO / f"{card.stem}.md").is_file()
    assert 0 < entry["test"]["dice"] <= 1 and entry["latency"]["rows"]
    image = sorted((phantom_set / "images").iterdir())[0]
    result = runner.invoke(app, ["predict", str(ZOO / entry["file"]), str(image), "--out", str(tmp_path / "p"),
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p" / "masks" / f"{image.stem}.png").is_file()
