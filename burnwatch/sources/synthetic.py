"""The embedded default scene: a deterministic Sentinel-2 L1C-like scene over the Red River Delta.

``make_demo_scene()`` builds a 1000 x 1000 pixel, 20 m scene (EPSG:32648, UTM 48N; upper-left
corner near 106.05 E, 20.78 N, between Hưng Yên and Thái Bình) of TOA reflectance for the MSI
roles coastal, blue, green, red, nir, nir_narrow, wv, swir1, swir2, with:

* rice paddies in a field grid: flooded (just transplanted), growing (green), harvested
  stubble/bare soil (the dry-season burning fuel) and a few burn scars;
* villages (built-up mixed with tree canopy), fish ponds, a meandering river, roads;
* decoys that tempt false alarms: cumulus clouds (bright in every band incl. SWIR) with their
  shadows, bright metal factory roofs, and sun glint on ponds/the river;
* burning fields injected *physically* with :mod:`burnwatch.detect.firesim` (Planck), some
  above and some below the detection limit measured by ``scripts/bench_detection_limit.py``
  (:data:`DETECTION_LIMIT_M2`), and two brick kilns (real but static heat sources, meant to be
  removed by an exclusion layer: see :func:`demo_exclusion_geojson`).

Land-cover TOA reflectances (:data:`SPECTRA`) are typical Sentinel-2 L1C values for these
surfaces in the tropics (path radiance included, hence blue > red over dark targets); they
are not fitted to a particular image. Everything derives from ``seed``; no file is read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from affine import Affine
from shapely.geometry import Polygon, box, mapping

from burnwatch.detect.firesim import FireSpec, InjectedFire, inject_fires
from burnwatch.types import Scene

ROLES: tuple[str, ...] = (
    "coastal",
    "blue",
    "green",
    "red",
    "nir",
    "nir_narrow",
    "wv",
    "swir1",
    "swir2",
)

#: Land cover -> TOA reflectance per role (same order as :data:`ROLES`).
SPECTRA: Mapping[str, tuple[float, ...]] = {
    "flooded_paddy": (0.125, 0.105, 0.090, 0.070, 0.110, 0.100, 0.055, 0.055, 0.035),
    "growing_rice": (0.115, 0.090, 0.100, 0.060, 0.340, 0.350, 0.200, 0.190, 0.095),
    "stubble": (0.130, 0.115, 0.135, 0.160, 0.260, 0.270, 0.170, 0.320, 0.240),
    "burn_scar": (0.115, 0.090, 0.080, 0.075, 0.110, 0.115, 0.075, 0.135, 0.115),
    "built_up": (0.150, 0.135, 0.145, 0.160, 0.220, 0.220, 0.140, 0.260, 0.220),
    "trees": (0.110, 0.085, 0.090, 0.055, 0.320, 0.330, 0.200, 0.170, 0.080),
    "river": (0.130, 0.115, 0.115, 0.095, 0.065, 0.060, 0.030, 0.025, 0.015),
    "pond": (0.125, 0.105, 0.095, 0.065, 0.045, 0.040, 0.020, 0.015, 0.010),
    "road": (0.140, 0.125, 0.135, 0.145, 0.185, 0.185, 0.120, 0.220, 0.190),
    "cloud": (0.560, 0.550, 0.530, 0.520, 0.550, 0.550, 0.400, 0.380, 0.250),
    "metal_roof": (0.330, 0.310, 0.320, 0.330, 0.360, 0.360, 0.300, 0.420, 0.360),
    "glint": (0.420, 0.400, 0.380, 0.370, 0.360, 0.360, 0.300, 0.340, 0.320),
}
COVER_CODES: Mapping[str, int] = {name: i + 1 for i, name in enumerate(SPECTRA)}

#: Smallest fire area (m²) detected in >= 90 % of random placements on this background,
#: by temperature (K), measured with ``scripts/bench_detection_limit.py`` (docs/detection.md).
DETECTION_LIMIT_M2: Mapping[int, float] = {800: 1.78, 1000: 0.56, 1200: 0.18}

#: Largest reflectance a Sentinel-2 L1C product can encode (16-bit DN / 10,000). The MSI
#: detectors' own SWIR saturation may be lower; it is not published per band.
L1C_MAX = 65535 / 10_000.0
PIXEL_M = 20.0
#: Upper-left corner (EPSG:32648) on the 20 m grid, ~106.05 E 20.78 N.
ORIGIN_XY = (610_000.0, 2_298_000.0)
CRS = "EPSG:32648"
TIME = datetime(2024, 6, 10, 3, 40, tzinfo=timezone.utc)  # 10:40 local, summer harvest
SUN_ZENITH, SUN_AZIMUTH = 22.0, 95.0


@dataclass(frozen=True)
class Decoy:
    """A fire-free target meant to tempt false alarms, with its pixel box and footprint."""

    kind: str  # "cloud", "cloud_shadow", "metal_roof", "glint"
    row0: int
    col0: int
    row1: int  # exclusive
    col1: int  # exclusive
    footprint_native: Polygon  # in the scene CRS
    lon: float
    lat: float


@dataclass(frozen=True, eq=False)
class DemoScene:
    """The demo scene, its injected fires (truth), decoys and static heat sources."""

    scene: Scene
    fires: list[InjectedFire]
    decoys: list[Decoy]
    static_sources: list[InjectedFire] = field(default_factory=list)
    land_cover: np.ndarray | None = None


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    field_ = gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return field_ / (field_.std() + 1e-9)


def _blob(rng: np.random.Generator, shape: tuple[int, int], r: int, c: int, radius: float) -> np.ndarray:
    """Irregular round blob (bool, full ``shape``) centred at (r, c); computed in a local window."""
    half = int(np.ceil(1.4 * radius)) + 2
    r0, r1 = max(0, r - half), min(shape[0], r + half + 1)
    c0, c1 = max(0, c - half), min(shape[1], c + half + 1)
    rows, cols = np.ogrid[r0:r1, c0:c1]
    d = np.hypot(rows - r, cols - c) / radius
    wobble = _smooth_noise(rng, (r1 - r0, c1 - c0), radius / 3.0) * 0.25
    out = np.zeros(shape, dtype=bool)
    out[r0:r1, c0:c1] = d + wobble < 1.0
    return out


def _lay_out(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Land-cover codes and the list of field boxes (r0, c0, r1, c1) for stubble fields."""
    cover = np.zeros((n, n), dtype=np.uint8)
    stubble_fields: list[tuple[int, int, int, int]] = []
    field_h, field_w = 12, 16
    kinds = ("flooded_paddy", "growing_rice", "stubble")
    for r0 in range(0, n, field_h):
        shift = int(rng.integers(0, field_w))
        for c0 in range(-shift, n, field_w):
            r1, c1 = min(n, r0 + field_h - 1), min(n, c0 + field_w - 1)  # 1 px bund
            kind = kinds[int(rng.choice(3, p=(0.25, 0.30, 0.45)))]
            cover[r0:r1, max(0, c0) : c1] = COVER_CODES[kind]
            cover[r1 : r0 + field_h, max(0, c0) : c0 + field_w] = COVER_CODES["growing_rice"]
            cover[r0:r1, c1 : c0 + field_w] = COVER_CODES["growing_rice"]
            if kind == "stubble" and c0 >= 0 and c1 < n:
                stubble_fields.append((r0, c0, r1, c1))
    # villages: built-up and trees, with fish ponds
    canopy = _smooth_noise(rng, (n, n), 2.0) > 0.2
    for _ in range(14):
        r, c = (int(v) for v in rng.integers(40, n - 40, size=2))
        village = _blob(rng, (n, n), r, c, float(rng.uniform(15, 40)))
        trees = village & canopy
        cover[village] = COVER_CODES["built_up"]
        cover[trees] = COVER_CODES["trees"]
        pr, pc = r + int(rng.integers(-20, 20)), c + int(rng.integers(-20, 20))
        cover[max(0, pr) : pr + 6, max(0, pc) : pc + 9] = COVER_CODES["pond"]
    # a meandering river NW -> SE
    rows = np.arange(n)
    centre = 0.35 * n + 0.3 * rows + 60.0 * np.sin(rows / 110.0)
    cols = np.arange(n)[None, :]
    river = np.abs(cols - centre[:, None]) < 14
    cover[river] = COVER_CODES["river"]
    # roads: two straight ones, 1 px wide
    cover[int(0.62 * n), :] = COVER_CODES["road"]
    cover[:, int(0.18 * n)] = COVER_CODES["road"]
    return cover, stubble_fields


def make_demo_scene(
    seed: int = 7, size: int = 1000, with_plume: bool = False, with_fires: bool = True
) -> DemoScene:
    """Build the demo scene (deterministic for a given ``seed`` and ``size``); see module doc.

    ``with_plume`` adds a simple smoke plume (extra scattering in the visible, fading with
    wavelength as λ^-1.5, negligible in the SWIR) downwind of the largest fire: a hook for
    the aerosol stage. ``with_fires=False`` gives the fire-free background (no fires, no
    kilns, no burn scars) used to measure false alarms and detection limits.
    """
    rng = np.random.default_rng(seed)
    n = size
    cover, stubble = _lay_out(rng, n)
    texture = 1.0 + 0.03 * _smooth_noise(rng, (n, n), 1.5)
    field_gain = 1.0 + 0.06 * _smooth_noise(rng, (n, n), 8.0)
    bands: dict[str, np.ndarray] = {}
    spectra = np.array([SPECTRA[name] for name in SPECTRA], dtype=np.float32)
    lut = np.vstack([np.zeros((1, len(ROLES)), np.float32), spectra])
    for i, role in enumerate(ROLES):
        arr = lut[cover, i] * texture * field_gain
        arr += rng.normal(0.0, 0.002, size=(n, n)).astype(np.float32)  # sensor noise
        bands[role] = np.clip(arr, 0.001, None).astype(np.float32)

    transform = Affine(PIXEL_M, 0.0, ORIGIN_XY[0], 0.0, -PIXEL_M, ORIGIN_XY[1])
    decoys: list[tuple[str, int, int, int, int]] = []

    def paint(kind: str, r0: int, c0: int, r1: int, c1: int, mask: np.ndarray | None = None) -> None:
        r1, c1 = min(r1, n), min(c1, n)
        sl = (slice(r0, r1), slice(c0, c1))
        m = np.ones((r1 - r0, c1 - c0), bool) if mask is None else mask[sl]
        for i, role in enumerate(ROLES):
            patch = bands[role][sl]
            patch[m] = SPECTRA[kind][i] * texture[sl][m]
        cover[sl][m] = COVER_CODES[kind]
        decoys.append((kind, r0, c0, r1, c1))

    # metal roofs (factories) and sun glint on ponds / the river
    for _ in range(8):
        r, c = (int(v) for v in rng.integers(20, n - 20, size=2))
        paint("metal_roof", r, c, r + int(rng.integers(2, 5)), c + int(rng.integers(3, 7)))
    water_px = np.argwhere(cover == COVER_CODES["river"])
    for k in range(4):
        r, c = (int(v) for v in water_px[rng.integers(0, len(water_px))])
        paint("glint", r, c, r + 3, c + 3 + k)
    # cumulus clouds with shadows cast away from the sun (west, sun in the east)
    shadow_dx = -round(1500.0 * float(np.tan(np.radians(SUN_ZENITH))) / PIXEL_M)
    for _ in range(6):
        r, c = int(rng.integers(60, n - 60)), int(rng.integers(100, n - 60))
        radius = float(rng.uniform(10, 22))
        blob = _blob(rng, (n, n), r, c, radius)
        ys, xs = np.nonzero(blob)
        r0, r1, c0, c1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        shadow = np.roll(blob, shadow_dx, axis=1) & ~blob
        for role in ROLES:
            bands[role][shadow] *= 0.35 if role not in ("coastal", "blue") else 0.6
        sr, sc = np.nonzero(shadow)
        decoys.append(("cloud_shadow", int(sr.min()), int(sc.min()), int(sr.max()) + 1, int(sc.max()) + 1))
        paint("cloud", int(r0), int(c0), int(r1), int(c1), mask=blob)

    busy = cover >= COVER_CODES["built_up"]
    for _, r0, c0, r1, c1 in decoys:
        busy[r0:r1, c0:c1] = True
    scene = Scene(
        scene_id=f"demo-rrd-s{seed}",
        source="demo",
        sensor="MSI",
        time=TIME,
        crs=CRS,
        transform=transform,
        bands=bands,
        level="toa",
        sun_zenith=SUN_ZENITH,
        sun_azimuth=SUN_AZIMUTH,
        cloud_cover=float(np.mean(cover == COVER_CODES["cloud"]) * 100.0),
        metadata={"biome": "tropical_moist", "synthetic": True, "seed": seed},
    )
    if not with_fires:
        return DemoScene(scene, [], [_decoy(transform, *d) for d in decoys], [], cover)
    specs, kilns = _fire_specs(rng, stubble, busy, bands, cover)
    scene = replace(scene, bands=bands)
    if with_plume and specs:  # smoke first, so the fire pixels saturate on top of it like a real sensor
        biggest = max(specs, key=lambda f: f.area_m2)
        scene = _add_plume(scene, int(biggest.row or 0), int(biggest.col or 0))
    scene, injected = inject_fires(scene, specs + kilns, saturation=dict.fromkeys(ROLES, L1C_MAX))
    fires = [_with_limit(f) for f in injected[: len(specs)]]
    statics = injected[len(specs) :]
    return DemoScene(
        scene=scene,
        fires=fires,
        decoys=[_decoy(transform, *d) for d in decoys],
        static_sources=statics,
        land_cover=cover,
    )


#: Fires put into stubble fields: (temperature K, area m²). Above and below the limits.
FIRE_RECIPE: tuple[tuple[float, float], ...] = (
    (1000.0, 50.0),
    (1200.0, 8.0),
    (800.0, 15.0),
    (1000.0, 1500.0),
    (900.0, 120.0),
    (1100.0, 3.0),
    (800.0, 0.3),
    (1000.0, 0.08),
    (1200.0, 0.03),
)
KILNS: tuple[tuple[float, float], ...] = ((1100.0, 6.0), (1050.0, 10.0))


#: Where fires may go, tried in turn until one placement finds room for at least one fire:
#: (clearance in px from villages, roofs, clouds, glint, their shadows; spacing in px between
#: fires). The first is the 1000 px demo's; scenes near the 200 px minimum are too crowded by
#: villages for it, so the later ones keep fires a few pixels (>= 160 m, beyond the 100 m kiln
#: exclusion buffer) from any decoy instead of 800 m.
PLACEMENT_RULES: tuple[tuple[int, int], ...] = ((40, 80), (20, 40), (8, 20))


def _fire_specs(
    rng: np.random.Generator,
    stubble: list[tuple[int, int, int, int]],
    busy: np.ndarray,
    bands: dict[str, np.ndarray],
    cover: np.ndarray,
) -> tuple[list[FireSpec], list[FireSpec]]:
    order = rng.permutation(len(stubble))
    sites: list[tuple[int, int, int, int]] = []
    for clearance, spacing in PLACEMENT_RULES:
        sites = _fire_sites([stubble[int(i)] for i in order], busy, clearance, spacing)
        if sites:
            break
    specs: list[FireSpec] = []
    for r0, c0, r1, c1 in sites:
        r, c = (r0 + r1) // 2, (c0 + c1) // 2
        # the burnt half of the field, flaming front on its edge
        half = (slice(r0, r1), slice(c0, c))
        for i, role in enumerate(ROLES):
            bands[role][half] = SPECTRA["burn_scar"][i] * (bands[role][half] / SPECTRA["stubble"][i])
        cover[half] = COVER_CODES["burn_scar"]
        t, a = FIRE_RECIPE[len(specs)]
        specs.append(FireSpec(t, a, row=r, col=c, label=f"field-fire-{len(specs) + 1}"))
    kilns: list[FireSpec] = []
    built = np.argwhere(cover == COVER_CODES["built_up"])
    for k, (t, a) in enumerate(KILNS):
        r, c = (int(v) for v in built[rng.integers(0, len(built))])
        kilns.append(FireSpec(t, a, row=r, col=c, label=f"brick-kiln-{k + 1}"))
    return specs, kilns


def _fire_sites(
    fields: list[tuple[int, int, int, int]], busy: np.ndarray, clearance: int, spacing: int
) -> list[tuple[int, int, int, int]]:
    """Stubble fields (in the given order, at most one per recipe fire) whose centre is at
    least ``clearance`` px from anything busy and ``spacing`` px from the fires before it."""
    out: list[tuple[int, int, int, int]] = []
    used: list[tuple[int, int]] = []
    for r0, c0, r1, c1 in fields:
        if len(out) == len(FIRE_RECIPE):
            break
        r, c = (r0 + r1) // 2, (c0 + c1) // 2
        near = busy[max(0, r - clearance) : r + clearance, max(0, c - clearance) : c + clearance]
        if near.any() or any(abs(r - u) < spacing and abs(c - v) < spacing for u, v in used):
            continue
        used.append((r, c))
        out.append((r0, c0, r1, c1))
    return out


def _with_limit(fire: InjectedFire) -> InjectedFire:
    temps = sorted(DETECTION_LIMIT_M2)
    nearest = min(temps, key=lambda t: abs(t - fire.temperature_k))
    # interpolate the limit in log-area between measured temperatures
    limit = (
        float(np.exp(np.interp(fire.temperature_k, temps, [np.log(DETECTION_LIMIT_M2[t]) for t in temps])))
        if temps[0] <= fire.temperature_k <= temps[-1]
        else DETECTION_LIMIT_M2[nearest]
    )
    return replace(fire, above_limit=fire.area_m2 >= limit)


def _decoy(transform: Affine, kind: str, r0: int, c0: int, r1: int, c1: int) -> Decoy:
    from burnwatch.georef.raster import pixel_centre, xy_to_lonlat

    x0, y0 = transform @ (c0, r0)
    x1, y1 = transform @ (c1, r1)
    cx, cy = pixel_centre(transform, (r0 + r1 - 1) / 2.0, (c0 + c1 - 1) / 2.0)
    lon, lat = xy_to_lonlat(CRS, cx, cy)
    return Decoy(kind, r0, c0, r1, c1, box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), lon, lat)


def _add_plume(scene: Scene, row: int, col: int) -> Scene:
    from burnwatch.types import BAND_ROLES

    rows, cols = np.mgrid[: scene.shape[0], : scene.shape[1]].astype(np.float32)
    dx, dy = cols - col, rows - row  # plume blows towards +col (east)
    downwind = np.clip(dx, 0, None)
    width = 3.0 + 0.15 * downwind
    plume = np.where(dx >= 0, np.exp(-0.5 * (dy / width) ** 2) * np.exp(-downwind / 250.0), 0.0)
    bands = {}
    for role, arr in scene.bands.items():
        tau = 0.25 * (BAND_ROLES[role] / 0.55) ** -1.5
        bands[role] = (arr + tau * 0.6 * plume).astype(np.float32)
    return replace(scene, bands=bands, metadata={**scene.metadata, "plume": True})


def demo_exclusion_geojson(demo: DemoScene, path: Path, radius_m: float = 100.0) -> Path:
    """Write the demo's brick kilns as a WGS84 point GeoJSON (``name`` field) for
    :func:`burnwatch.detect.exclusion.load_exclusion_zones` (buffer ``radius_m``)."""
    features = [
        {
            "type": "Feature",
            "properties": {"name": k.label, "kind": "brick_kiln", "radius_m": radius_m},
            "geometry": mapping(box(k.lon, k.lat, k.lon, k.lat).centroid),
        }
        for k in demo.static_sources
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path
