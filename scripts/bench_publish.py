"""Time the publishing stage on a full Sentinel-2 20 m tile (5490 x 5490 pixels).

Measures: the fire-class COG (uint8 + palette) and a float32 COG write and validation, a
true-colour quicklook and a fire-mask overlay (both warped to Web Mercator, longer side 2048 px),
and an offline map with N hotspots. Synthetic data, deterministic; prints a Markdown table.

    nice -n 10 .venv/bin/python scripts/bench_publish.py [--size 5490] [--hotspots 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from affine import Affine
from shapely.geometry import box

from burnwatch.publish.cog import FIRE_CLASS_COLOURS, validate_cog, write_cog
from burnwatch.publish.quicklook import mask_overlay, scene_quicklook
from burnwatch.publish.webmap import hotspot_map
from burnwatch.types import Hotspot, Scene

UTM48 = "EPSG:32648"
TRANSFORM = Affine(20.0, 0.0, 499980.0, 0.0, -20.0, 2400000.0)  # an S2 tile corner in UTM 48N


def timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=5490)
    ap.add_argument("--hotspots", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.size
    rng = np.random.default_rng(0)
    classes = np.zeros((n, n), np.uint8)
    idx = rng.integers(0, n, size=(2000, 2))
    classes[idx[:, 0], idx[:, 1]] = rng.integers(1, 4, size=2000, dtype=np.uint8)
    smooth = np.add.outer(np.linspace(0, 1, n, dtype=np.float32), np.linspace(0, 1, n, dtype=np.float32))
    bands = {r: (0.05 + 0.1 * smooth + 0.02 * i).astype(np.float32) for i, r in enumerate(("red", "green", "blue"))}
    scene = Scene("bench", "demo", "MSI", datetime(2024, 3, 1, tzinfo=timezone.utc), UTM48, TRANSFORM, bands)
    hotspots = []
    for i in range(args.hotspots):
        lon, lat = 105.0 + rng.random(), 20.7 + rng.random()
        hotspots.append(Hotspot("demo", "MSI", "bench", datetime(2024, 3, 1, tzinfo=timezone.utc), lon, lat, 0.8,
                                ("low", "nominal", "high")[i % 3], box(lon - 1e-4, lat - 1e-4, lon + 1e-4, lat + 1e-4)))
    rows = []
    mpx = n * n / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t = timed(lambda: write_cog(d / "c.tif", classes, TRANSFORM, UTM48, nodata=0, colormap=FIRE_CLASS_COLOURS), args.repeat)
        rows.append(("fire-class COG write (uint8, palette)", t, f"{mpx / t:.0f} Mpx/s, {(d / 'c.tif').stat().st_size / 1e6:.2f} MB"))
        t = timed(lambda: validate_cog(d / "c.tif"), args.repeat)
        rows.append(("COG validation (rio-cogeo)", t, ""))
        t = timed(lambda: write_cog(d / "f.tif", bands["red"], TRANSFORM, UTM48, overview_resampling="average"), args.repeat)
        rows.append(("float32 COG write", t, f"{mpx / t:.0f} Mpx/s, {(d / 'f.tif').stat().st_size / 1e6:.1f} MB"))
        t = timed(lambda: scene_quicklook(scene, max_size=2048), args.repeat)
        rows.append(("true-colour quicklook -> 2048 px, EPSG:3857 PNG", t, ""))
        t = timed(lambda: mask_overlay(classes, TRANSFORM, UTM48, max_size=2048), args.repeat)
        rows.append(("fire-mask overlay -> 2048 px, EPSG:3857 PNG", t, ""))
        t = timed(lambda: hotspot_map(hotspots, d / "m" / "index.html"), args.repeat)
        size = (d / "m" / "index.html").stat().st_size / 1e6
        rows.append((f"offline map, {args.hotspots} hotspots (clustered)", t, f"HTML {size:.1f} MB"))
    print(f"grid {n} x {n} ({mpx:.1f} Mpx), median of {args.repeat}, {platform.processor() or platform.machine()}\n")
    print("| step | seconds | notes |\n|---|---:|---|")
    for name, secs, note in rows:
        print(f"| {name} | {secs:.2f} | {note} |")


if __name__ == "__main__":
    main()
