"""Shared pytest fixtures. Tests are hermetic: data is generated in fixtures or read from
``../shared`` (skipped with a reason when it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BURNWATCH_SHARED_DIR", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``../shared`` data folder, or skip the test when it is not there."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"shared data not found at {SHARED} (set BURNWATCH_SHARED_DIR)")
    return SHARED


def shared_file(shared: Path, rel: str) -> Path:
    """A file under ``../shared``; skip (with the path) when it is missing."""
    path = shared / rel
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(autouse=True, scope="session")
def _offline_environment(tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test may reach the network or write to the user's config directories."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(tmp_path_factory.mktemp("yolo-config")))
    os.environ.setdefault("MPLBACKEND", "Agg")


# Browser fixtures are defined once here, so the whole session shares ONE Playwright instance
# (two sync_playwright() instances alive in one thread fail with "Sync API inside the asyncio
# loop"); test modules use them without importing them.
from browser import chromium_browser, open_recorded  # noqa: E402, F401
