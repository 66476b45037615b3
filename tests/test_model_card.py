"""The model card's numbers are what ``burnwatch model eval`` measures today (±0.01).

Runs the shipped ONNX model over the whole ``../shared/data/fire-smoke`` val split (1,106
images, ~30 s on 2 cores) through the CLI, and compares with the table in ``models/README.md``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, shared_file

from burnwatch.cli.main import cli

pytestmark = [pytest.mark.slow, pytest.mark.shared]


def _card_rows() -> dict[str, tuple[float, float]]:
    """{class: (AP50, AP50-95)} from the model card's metrics table."""
    text = (ROOT / "models" / "README.md").read_text(encoding="utf-8")
    rows = {}
    for name in ("fire", "smoke"):
        m = re.search(rf"^\| {name} \|(?:[^|]*\|){{4}}\s*\**([0-9.]+)\**\s*\|\s*\**([0-9.]+)\**\s*\|", text, re.M)
        assert m, f"model card has no metrics row for {name}"
        rows[name] = (float(m.group(1)), float(m.group(2)))
    m = re.search(r"^\| all \(mAP\) \|(?:[^|]*\|){4}\s*\**([0-9.]+)\**\s*\|\s*\**([0-9.]+)\**\s*\|", text, re.M)
    assert m, "model card has no mAP row"
    rows["all"] = (float(m.group(1)), float(m.group(2)))
    return rows


def test_model_card_numbers_reproduce_on_the_val_split(shared_dir: Path, tmp_path: Path) -> None:
    data = shared_file(shared_dir, "data/fire-smoke")
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(cli, ["-q", "model", "eval", "--data", str(data), "--split", "val",
                                      "--json", str(out)])
    assert result.exit_code == 0, result.output
    measured = json.loads(out.read_text(encoding="utf-8"))
    card = _card_rows()
    for name in ("fire", "smoke"):
        got = measured["classes"][name]
        assert got["ap50"] == pytest.approx(card[name][0], abs=0.01), name
        assert got["ap50_95"] == pytest.approx(card[name][1], abs=0.01), name
    assert measured["map50"] == pytest.approx(card["all"][0], abs=0.01)
    # the validation targets, as measured
    assert measured["classes"]["fire"]["ap50"] >= 0.75
    assert measured["classes"]["smoke"]["ap50"] >= 0.50
