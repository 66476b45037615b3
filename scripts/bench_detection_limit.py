#!/usr/bin/env python
"""Detection probability vs fire area at 800/1000/1200 K, and false alarms on fire-free imagery.

Fires are injected physically (:mod:`burnwatch.detect.firesim`, Planck) at random positions
(jittered grid, >= 40 px apart, never under a cloud) into two fire-free backgrounds:

* the synthetic Red River Delta paddy scene (``make_demo_scene(with_fires=False)``, S2 MSI
  20 m, algorithm hu2021-s2), and
* the real Landsat-7 ETM+ no-fire scene ``<shared>/data/satellite/landsat7_nofire/``
  (28.5 m, algorithm schroeder2016-hotmap). Its files hold L1 DN (1-255, 0/-99999/-32768 =
  no data); they are converted to TOA reflectance with the ETM+ calibration of Chander et
  al. (2009), gains H,H,H,L,H,H for bands 1,2,3,4,5,7 and an assumed sun zenith of 37°
  (GRASS North Carolina sample scene, 2000-03-31 ~15:30 UTC; the files carry no metadata).
  After injection each band is clipped at its DN-255 reflectance: ETM+ saturates; the
  saturation levels go into ``scene.metadata["saturation"]`` for the detector.

A fire counts as detected when a pixel of class >= low lies on or next to (8-neighbourhood)
one of its pixels. The detection limit at a temperature is the smallest area whose bin and
all larger bins reach >= 90 % detection. False alarms: hotspots (8-connected clusters) per
1,000 km² on the fire-free scenes (synthetic: seeds 1-5; Landsat-7: the real scene).

    nice -n 10 .venv/bin/python scripts/bench_detection_limit.py --shared ../shared --out docs

writes ``docs/detection_limit.json``, ``docs/detection_limit.png`` and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from scipy import ndimage

from burnwatch.detect.firesim import FireSpec, etm_dn_to_reflectance, inject_fires
from burnwatch.detect.spectral import detect_fires
from burnwatch.georef.raster import fire_hotspots
from burnwatch.sources.synthetic import make_demo_scene
from burnwatch.types import Scene

TEMPS = (800.0, 1000.0, 1200.0)
AREAS = tuple(float(a) for a in np.round(0.01 * 10 ** (np.arange(0, 21) / 4.0), 4))
L7_FILES = {"blue": "10", "green": "20", "red": "30", "nir": "40", "swir1": "50", "swir2": "70"}
L7_GAINS = {"blue": "H", "green": "H", "red": "H", "nir": "L", "swir1": "H", "swir2": "H"}
L7_SUN_ZENITH = 37.0
L7_TIME = datetime(2000, 3, 31, 15, 30, tzinfo=timezone.utc)


def landsat7_scene(folder: Path) -> tuple[Scene, dict[str, float]]:
    """The ETM+ no-fire scene as TOA reflectance, plus the saturation reflectance per band."""
    import rasterio

    bands, saturation = {}, {}
    doy = L7_TIME.timetuple().tm_yday
    for role, code in L7_FILES.items():
        with rasterio.open(folder / f"lsat7_2000_{code}.tif") as src:
            dn = src.read(1).astype(np.float64)
            if src.nodata is not None:
                dn[dn == src.nodata] = 0.0
            crs, transform = str(src.crs), src.transform
        bands[role] = etm_dn_to_reflectance(dn, role, L7_GAINS[role], L7_SUN_ZENITH, doy)
        saturation[role] = float(etm_dn_to_reflectance(np.array([255.0]), role, L7_GAINS[role], L7_SUN_ZENITH, doy)[0])
    scene = Scene("lsat7_2000_nofire", "landsat", "ETM+", L7_TIME, crs, transform, bands, sun_zenith=L7_SUN_ZENITH,
                  metadata={"saturation": saturation})
    return scene, saturation


def positions(scene: Scene, rng: np.random.Generator, spacing: int = 40) -> np.ndarray:
    """Jittered grid of (row, col), skipping clouds and invalid pixels."""
    base = detect_fires(scene)
    forbidden = base.masks["cloud"] | ~base.masks["valid"]
    forbidden = ndimage.binary_dilation(forbidden, iterations=2)
    rows, cols = scene.shape
    out = []
    for r in range(spacing // 2, rows - spacing // 2, spacing):
        for c in range(spacing // 2, cols - spacing // 2, spacing):
            rr = r + int(rng.integers(-spacing // 4, spacing // 4 + 1))
            cc = c + int(rng.integers(-spacing // 4, spacing // 4 + 1))
            if not forbidden[rr, cc]:
                out.append((rr, cc))
    return np.array(out)


def curve(scene: Scene, pos: np.ndarray, saturation: dict[str, float] | None) -> dict[float, list[float]]:
    """{T: [fraction detected per area in AREAS]}."""
    result: dict[float, list[float]] = {}
    for t in TEMPS:
        fractions = []
        for a in AREAS:
            specs = [FireSpec(t, a, row=int(r), col=int(c)) for r, c in pos]
            injected, truth = inject_fires(scene, specs, saturation=saturation)
            fire = ndimage.binary_dilation(detect_fires(injected).fire_mask, structure=np.ones((3, 3), bool))
            hits = sum(any(fire[r, c] for r, c, _ in f.pixels) for f in truth)
            fractions.append(hits / len(truth))
        result[t] = fractions
        print(f"  {scene.scene_id} T={t:.0f} K: " + " ".join(f"{f:.2f}" for f in fractions), file=sys.stderr)
    return result


def limits(c: dict[float, list[float]]) -> dict[float, float | None]:
    out: dict[float, float | None] = {}
    for t, fr in c.items():
        lim = None
        for i in range(len(AREAS) - 1, -1, -1):
            if fr[i] >= 0.9:
                lim = AREAS[i]
            else:
                break
        out[t] = lim
    return out


def false_alarms(scenes: list[Scene]) -> dict[str, float]:
    n_hot, area_km2 = 0, 0.0
    for s in scenes:
        n_hot += len(fire_hotspots(s, detect_fires(s)))
        area_km2 += s.shape[0] * s.shape[1] * s.pixel_area_m2 / 1e6
    return {"hotspots": n_hot, "area_km2": round(area_km2, 1), "per_1000_km2": round(1000.0 * n_hot / area_km2, 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    ap.add_argument("--out", type=Path, default=Path("docs"))
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    results: dict[str, object] = {"areas_m2": AREAS, "temperatures_k": TEMPS, "seed": args.seed}

    demo = make_demo_scene(with_fires=False).scene
    pos = positions(demo, rng)
    c = curve(demo, pos, None)
    results["synthetic_s2"] = {"fires_per_bin": len(pos), "detected": c, "limit_m2": limits(c)}
    results["synthetic_s2_false_alarms"] = false_alarms(
        [make_demo_scene(seed=s, with_fires=False).scene for s in range(1, 6)]
    )

    folder = args.shared / "data" / "satellite" / "landsat7_nofire"
    if folder.is_dir():
        l7, sat = landsat7_scene(folder)
        pos = positions(l7, rng, spacing=30)
        c = curve(l7, pos, sat)
        results["landsat7"] = {"fires_per_bin": len(pos), "detected": c, "limit_m2": limits(c),
                               "saturation_reflectance": sat}
        results["landsat7_false_alarms"] = false_alarms([l7])
    else:
        print(f"{folder} not found: Landsat-7 part skipped", file=sys.stderr)
    results["runtime_s"] = round(time.time() - t0, 1)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "detection_limit.json").write_text(json.dumps(results, indent=1, default=str))
    _plot(results, args.out / "detection_limit.png")
    _markdown(results)
    return 0


def _plot(results: dict[str, object], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for key, style in (("synthetic_s2", "-"), ("landsat7", "--")):
        if key not in results:
            continue
        det = results[key]["detected"]  # type: ignore[index]
        for t in TEMPS:
            ax.plot(AREAS, det[t], style, marker="o", ms=3, label=f"{key} {t:.0f} K")
    ax.set_xscale("log")
    ax.set_xlabel("fire area (m²)")
    ax.set_ylabel("detection probability")
    ax.axhline(0.9, color="grey", lw=0.5)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", lw=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _markdown(results: dict[str, object]) -> None:
    for key in ("synthetic_s2", "landsat7"):
        if key not in results:
            continue
        r = results[key]
        print(f"\n### {key} ({r['fires_per_bin']} fires per bin)\n")  # type: ignore[index]
        print("| area m² | " + " | ".join(f"{t:.0f} K" for t in TEMPS) + " |")
        print("|---|" + "---|" * len(TEMPS))
        for i, a in enumerate(AREAS):
            print(f"| {a:g} | " + " | ".join(f"{r['detected'][t][i]:.2f}" for t in TEMPS) + " |")  # type: ignore[index]
        print("\nlimit (m², >= 90 %): " + ", ".join(f"{t:.0f} K: {r['limit_m2'][t]}" for t in TEMPS))  # type: ignore[index]
    for key in ("synthetic_s2_false_alarms", "landsat7_false_alarms"):
        if key in results:
            print(f"\n{key}: {results[key]}")
    print(f"\nruntime {results['runtime_s']} s")


if __name__ == "__main__":
    raise SystemExit(main())
