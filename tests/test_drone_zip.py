"""Flight input: discovering a flight folder and extracting a flight .zip defensively."""

from __future__ import annotations

from pathlib import Path

from burnwatch.sources.drone import discover_flight


def test_discover_flight_skips_excluded_folders(tmp_path: Path) -> None:
    flight = tmp_path / "flight"
    (flight / "out" / "thumbnails").mkdir(parents=True)
    (flight / "sub").mkdir()
    for rel in ("DJI_0001.JPG", "sub/DJI_0002.JPG", "out/thumbnails/DJI_0001_abc.jpg", "out/report.json"):
        (flight / rel).write_bytes(b"x")
    files = discover_flight(flight, exclude=[flight / "sub" / ".." / "out"])  # resolved before comparing
    assert [p.name for p in files.photos] == ["DJI_0001.JPG", "DJI_0002.JPG"] and files.ignored == []
    # an excluded folder that holds the flight (e.g. --out .) excludes nothing inside it
    assert len(discover_flight(flight, exclude=[tmp_path]).photos) == 3
    assert len(discover_flight(flight).photos) == 3
