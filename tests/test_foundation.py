"""The foundation: CLI wiring, settings, errors and typed values."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner
from shapely.geometry import box

from burnwatch.cli.main import COMMANDS, cli
from burnwatch.config import load_settings
from burnwatch.errors import BurnwatchError, ConfigError, InputError
from burnwatch.types import Hotspot, Scene


def test_every_present_command_has_help() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    listed = cli.list_commands(None)  # type: ignore[arg-type]
    assert set(listed) <= set(COMMANDS)
    for name in listed:
        sub = runner.invoke(cli, [name, "--help"])
        assert sub.exit_code == 0, f"{name} --help failed: {sub.output}"
        assert "Usage:" in sub.output


def test_settings_validate_with_readable_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BURNWATCH_HTTP_RETRIES", "lots")
    with pytest.raises(ConfigError, match="BURNWATCH_HTTP_RETRIES"):
        load_settings()


def test_errors_share_one_root_and_name_the_file() -> None:
    err = InputError("not a GeoTIFF", path="scene.tif")
    assert isinstance(err, BurnwatchError)
    assert isinstance(err, ValueError)
    assert str(err) == "scene.tif: not a GeoTIFF"
    assert err.http_status == 422


def test_scene_rejects_mismatched_bands() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        Scene(
            scene_id="x", source="file", sensor="MSI", time=datetime(2025, 1, 1),
            crs="EPSG:32648", transform=Affine.identity(),
            bands={"swir1": np.zeros((2, 2)), "swir2": np.zeros((3, 3))},
        )


def test_hotspot_time_is_utc_and_key_is_stable() -> None:
    hs = Hotspot(
        source="firms", sensor="MODIS", algorithm="firms-c6.1", time=datetime(2025, 1, 1, 3, 30),
        lon=105.8, lat=21.0, confidence=0.8, confidence_class="high",
        footprint=box(105.79, 20.99, 105.81, 21.01),
    )
    assert hs.time.tzinfo == timezone.utc
    assert hs.natural_key == ("firms", "MODIS", "firms-c6.1", "2025-01-01T03:30:00Z", 105.8, 21.0)
    with pytest.raises(ValueError):
        Hotspot(
            source="firms", sensor="MODIS", algorithm="a", time=datetime(2025, 1, 1),
            lon=200.0, lat=0.0, confidence=0.5, confidence_class="low", footprint=box(0, 0, 1, 1),
        )
