#!/usr/bin/env python
"""Throughput of the source readers on the real files in ../shared.

* FIRMS MODIS 7-day world export (41,670 rows): rows/s parsed into hotspots, whole file and
  clipped to Vietnam's bbox (102.1,8.2,109.5,23.4).
* Sentinel-2 B9/B11/B12 GeoTIFF (400x400, DN x 10,000) -> Scene: Mpx/s.
* Landsat-7 ETM+ six single-band files (489x443, 8-bit DN) -> calibrated Scene: Mpx/s.

Each is timed ``--repeat`` times and the best run is reported (first call warms caches).

    nice -n 10 .venv/bin/python scripts/bench_sources.py --shared ../shared
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from burnwatch.sources.base import parse_aoi
from burnwatch.sources.firms import read_firms_csv
from burnwatch.sources.local import etm_plus_toa_reflectance, read_band_files, read_geotiff


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = args.shared / "data"

    firms = data / "firms" / "modis_c61_nrt_world_7day_2022-03-28_2022-04-04.csv"
    vietnam = parse_aoi("102.1,8.2,109.5,23.4")
    rows = sum(1 for _ in firms.open()) - 1
    t_all, hs_all = best_of(args.repeat, lambda: read_firms_csv(firms))
    t_vn, hs_vn = best_of(args.repeat, lambda: read_firms_csv(firms, aoi=vietnam))
    print("| reader | input | result | best time | throughput |")
    print("|---|---|---|---|---|")
    print(f"| read_firms_csv | {firms.name} ({rows} rows) | {len(hs_all)} hotspots | {t_all:.2f} s | {rows / t_all:,.0f} rows/s |")  # type: ignore[arg-type]
    print(f"| read_firms_csv, Vietnam bbox | same | {len(hs_vn)} hotspots | {t_vn:.2f} s | {rows / t_vn:,.0f} rows/s |")  # type: ignore[arg-type]

    s2 = data / "satellite" / "s2_bc_fire_20230514_b9_b11_b12.tif"
    t_s2, scene = best_of(args.repeat, lambda: read_geotiff(s2, "s2:B9,B11,B12"))
    px = scene.shape[0] * scene.shape[1] * len(scene.bands)  # type: ignore[attr-defined]
    print(f"| read_geotiff | {s2.name} | 3 bands 400x400 | {t_s2 * 1000:.1f} ms | {px / t_s2 / 1e6:.1f} Mpx/s |")

    l7 = data / "satellite" / "landsat7_nofire"
    files = {r: l7 / f"lsat7_2000_{n}.tif" for r, n in [("blue", 10), ("green", 20), ("red", 30), ("nir", 40), ("swir1", 50), ("swir2", 70)]}
    cal = etm_plus_toa_reflectance(37.0, date(2000, 3, 31))
    when = datetime(2000, 3, 31, tzinfo=timezone.utc)
    t_l7, scene = best_of(args.repeat, lambda: read_band_files(files, sensor="ETM+", time=when, calibration=cal))
    px = scene.shape[0] * scene.shape[1] * len(scene.bands)  # type: ignore[attr-defined]
    print(f"| read_band_files + ETM+ calibration | landsat7_nofire (6 files) | 6 bands 489x443 | {t_l7 * 1000:.1f} ms | {px / t_l7 / 1e6:.1f} Mpx/s |")


if __name__ == "__main__":
    main()
