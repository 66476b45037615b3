#!/usr/bin/env python
"""Throughput of the spectral fire detectors on a full Sentinel-2 tile size (5490 x 5490 px).

The tile is the fire-free synthetic Red River Delta scene tiled to 5490 x 5490 with
``--fires`` fires injected physically at random positions (so the contextual 61x61 test has
work to do). Timed: :func:`burnwatch.detect.spectral.detect_fires` (median of ``--repeat``
runs, wall clock and process CPU time: the detectors are single-threaded numpy, so CPU time
is what an idle core would take; wall time depends on the machine's load, also printed)
and, separately, :func:`burnwatch.georef.raster.fire_hotspots`.

* Sentinel-2 ``hu2021-s2`` on a four-band tile (red, nir, swir1, swir2);
* Landsat ``schroeder2016-hotmap`` on the same grid with the six bands it needs
  (blue, green, red, nir, swir1, swir2), declared as OLI.

    nice -n 10 .venv/bin/python scripts/bench_spectral_throughput.py

prints a Markdown table and writes ``docs/throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from burnwatch.detect.firesim import FireSpec, inject_fires
from burnwatch.detect.spectral import detect_fires
from burnwatch.georef.raster import fire_hotspots
from burnwatch.sources.synthetic import make_demo_scene

SIZE = 5490


def tile(roles: tuple[str, ...], sensor: str, fires: int, seed: int):  # type: ignore[no-untyped-def]
    base = make_demo_scene(with_fires=False).scene
    reps = -(-SIZE // base.shape[0])
    bands = {r: np.ascontiguousarray(np.tile(base.bands[r], (reps, reps))[:SIZE, :SIZE]) for r in roles}
    scene = replace(base, bands=bands, sensor=sensor, scene_id=f"bench-{sensor}")
    rng = np.random.default_rng(seed)
    specs = [
        FireSpec(float(rng.uniform(800, 1200)), float(rng.uniform(5, 500)),
                 row=int(rng.integers(0, SIZE)), col=int(rng.integers(0, SIZE)))
        for _ in range(fires)
    ]
    return inject_fires(scene, specs)[0]


def bench(scene, repeat: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    times, cpu = [], []
    result = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = detect_fires(scene)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert result is not None
    t0 = time.perf_counter()
    hotspots = fire_hotspots(scene, result)
    t_hot = time.perf_counter() - t0
    med = statistics.median(times)
    px = scene.shape[0] * scene.shape[1]
    return {
        "algorithm": result.algorithm,
        "bands": len(scene.bands),
        "pixels": px,
        "detect_s_median": round(med, 3),
        "detect_mpx_per_s": round(px / med / 1e6, 1),
        "detect_cpu_s_median": round(statistics.median(cpu), 3),
        "detect_mpx_per_cpu_s": round(px / statistics.median(cpu) / 1e6, 1),
        "fire_pixels": result.fire_pixel_count,
        "hotspots": len(hotspots),
        "hotspots_s": round(t_hot, 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fires", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("docs"))
    args = ap.parse_args()
    load_before = os.getloadavg()
    rows = [
        bench(tile(("red", "nir", "swir1", "swir2"), "MSI", args.fires, args.seed), args.repeat),
        bench(tile(("blue", "green", "red", "nir", "swir1", "swir2"), "OLI", args.fires, args.seed), args.repeat),
    ]
    info = {
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "size": SIZE,
        "fires": args.fires,
        "load_before": load_before,
        "results": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "throughput.json").write_text(json.dumps(info, indent=1))
    print(f"load average before: {info['load_before']}, after: {os.getloadavg()}")
    print("| algorithm | bands | tile | wall s | Mpx/s (wall) | CPU s | Mpx/s (CPU) | fire px | hotspots | hotspots s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['algorithm']} | {r['bands']} | {SIZE}x{SIZE} | {r['detect_s_median']} | "
              f"{r['detect_mpx_per_s']} | {r['detect_cpu_s_median']} | {r['detect_mpx_per_cpu_s']} | "
              f"{r['fire_pixels']} | {r['hotspots']} | {r['hotspots_s']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
