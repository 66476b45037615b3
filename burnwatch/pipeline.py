"""The satellite scan, top to bottom: scenes in -> fire detection -> hotspots -> outputs.

:func:`process_scene` is the unit of work for one scene (pure apart from writing its own
raster products), so a scheduler or a Dask worker can run it anywhere; :func:`run_scan`
drives a whole scan: it processes every scene (a scene that fails is reported and the rest
go on), adds hotspots from hotspot sources (FIRMS), applies the static heat-source
exclusion layer, and publishes GeoJSON, GeoPackage, the fire-mask COGs, the offline map and
the run manifest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from burnwatch.errors import BurnwatchError, InputError
from burnwatch.types import AOI, Hotspot, Scene

if TYPE_CHECKING:
    import numpy as np

    from burnwatch.detect.exclusion import ExclusionZone
    from burnwatch.publish.quicklook import Overlay

log = logging.getLogger(__name__)

#: Called after each scene with (done, total or None, message).
Progress = Callable[[int, int | None, str], None]

MIN_CLASS = {"low": 1, "nominal": 2, "high": 3}


@dataclass(frozen=True)
class ScanOptions:
    """Parameters of a scan that do not depend on the source."""

    algorithm: str | None = None  # None: chosen per scene by sensor and bands
    min_confidence: Literal["low", "nominal", "high"] = "low"
    exclusions: Path | None = None  # vector file of known static heat sources
    exclusion_name_field: str = "name"
    exclusion_buffer_m: float = 250.0
    quicklook: Literal["auto", "true", "false"] = "auto"
    tile_url: str | None = None
    title: str = "burnwatch scan"

    def as_dict(self) -> dict[str, object]:
        return {
            "algorithm": self.algorithm,
            "min_confidence": self.min_confidence,
            "exclusions": str(self.exclusions) if self.exclusions else None,
            "exclusion_name_field": self.exclusion_name_field,
            "exclusion_buffer_m": self.exclusion_buffer_m,
            "quicklook": self.quicklook,
        }


@dataclass(frozen=True)
class SceneProduct:
    """What one scene produced: its hotspots and the files written for it."""

    scene_id: str
    time: datetime
    algorithm: str
    algorithm_version: str
    tests_run: tuple[str, ...]
    fire_pixels: int
    hotspots: tuple[Hotspot, ...]
    fire_cog: Path
    overlays: tuple[Overlay, ...]  # quicklook and fire mask, PNGs also written beside the COG
    seconds: float
    valid_pixels: int = -1  # pixels the detector could test (-1: not known)


@dataclass
class ScanResult:
    """A finished scan. ``hotspots`` excludes those suppressed as static heat sources."""

    out_dir: Path
    hotspots: list[Hotspot]
    suppressed: list[Hotspot]
    products: list[SceneProduct]
    errors: list[str] = field(default_factory=list)  # per-input and per-scene problems, each once
    outputs: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # e.g. a scene without one valid pixel
    outside_aoi: int = 0  # hotspots dropped because their point lies outside the AOI
    duplicates: int = 0  # hotspots dropped as repeats of an earlier one (same natural_key)
    outside_window: int = 0  # hotspots dropped because acquired outside the scan's dates


def prepare_out_dir(out_dir: Path) -> Path:
    """Create the output folder (and parents); one :class:`InputError` naming it if that fails."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise InputError("cannot create the output folder: a file is in the way", path=out_dir) from exc
    except OSError as exc:
        raise InputError(f"cannot create the output folder ({exc.strerror or exc})", path=out_dir) from exc
    return out_dir


def _valid_pixels(scene: Scene, masks: Mapping[str, np.ndarray]) -> int:
    import numpy as np

    valid = masks.get("valid")
    if valid is None:
        valid = np.all([np.isfinite(b) for b in scene.bands.values()], axis=0)
    return int(np.count_nonzero(valid))


def _scene_error(scene_id: str, message: str) -> str:
    """``scene <id>: <message>``, without doubling a prefix the message already has."""
    return message if message.startswith(f"scene {scene_id}") else f"scene {scene_id}: {message}"


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:120]


def process_scene(scene: Scene, out_dir: Path, options: ScanOptions = ScanOptions()) -> SceneProduct:
    """Detect fires in one scene, write its fire-confidence COG and overlays, return hotspots.

    The COG (``<scene>_fire.tif``, uint8 0 none / 1 low / 2 nominal / 3 high, scene CRS) and
    two PNG overlays (scene quicklook, fire mask; Web Mercator) go to ``out_dir/scenes``.
    """
    from burnwatch.detect.spectral import detect_fires
    from burnwatch.georef.raster import fire_hotspots
    from burnwatch.publish.cog import write_cog
    from burnwatch.publish.quicklook import FIRE_CLASS_COLOURS, mask_overlay, scene_quicklook

    started = time.perf_counter()
    result = detect_fires(scene, options.algorithm)
    hotspots = fire_hotspots(scene, result, min_class=MIN_CLASS[options.min_confidence])
    name = _safe_name(scene.scene_id)
    scene_dir = Path(out_dir) / "scenes"
    scene_dir.mkdir(parents=True, exist_ok=True)
    cog = write_cog(
        scene_dir / f"{name}_fire.tif",
        result.confidence,
        scene.transform,
        scene.crs,
        nodata=None,
        colormap=FIRE_CLASS_COLOURS,
        band_descriptions=[f"fire confidence ({result.algorithm}): 0 none, 1 low, 2 nominal, 3 high"],
    )
    overlays: list[Overlay] = []
    try:
        quick = scene_quicklook(scene, options.quicklook, opacity=0.85)
        # The map references this very file (relative path), so no second copy is written.
        quick = replace(quick, filename=f"scenes/{name}_quicklook.png")
        quick.write(scene_dir / f"{name}_quicklook.png")
        overlays.append(quick)
    except BurnwatchError as exc:  # e.g. no three bands to show: the scan itself is fine
        log.warning("scene %s: no quicklook (%s)", scene.scene_id, exc)
    if result.fire_pixel_count:
        mask = mask_overlay(result.confidence, scene.transform, scene.crs, name=f"{scene.scene_id} fire mask")
        mask = replace(mask, filename=f"scenes/{name}_firemask.png")
        mask.write(scene_dir / f"{name}_firemask.png")
        overlays.append(mask)
    return SceneProduct(
        scene_id=scene.scene_id,
        time=scene.time,
        algorithm=result.algorithm,
        algorithm_version=result.algorithm_version,
        tests_run=tuple(result.tests_run),
        fire_pixels=result.fire_pixel_count,
        hotspots=tuple(hotspots),
        fire_cog=cog,
        overlays=tuple(overlays),
        seconds=time.perf_counter() - started,
        valid_pixels=_valid_pixels(scene, result.masks),
    )


def load_exclusion_layer(options: ScanOptions) -> list[ExclusionZone] | None:
    """The configured exclusion zones (None without ``options.exclusions``); InputError naming
    the file when it cannot be used. Call before any scene is fetched."""
    if options.exclusions is None:
        return None
    from burnwatch.detect.exclusion import load_exclusion_zones

    return load_exclusion_zones(
        options.exclusions, name_field=options.exclusion_name_field, buffer_m=options.exclusion_buffer_m
    )


def apply_exclusion_layer(
    hotspots: Sequence[Hotspot], options: ScanOptions, zones: Sequence[ExclusionZone] | None = None
) -> tuple[list[Hotspot], list[Hotspot]]:
    """Split hotspots into (kept, suppressed) by the exclusion layer, if one is configured.

    ``zones`` already loaded (:func:`load_exclusion_layer`) are used as they are. Suppressed
    hotspots keep a ``static_source:<name>`` flag plus ``suppressed``, are written to their
    own layer and listed on the map: never silently dropped.
    """
    if zones is None:
        zones = load_exclusion_layer(options)
    if zones is None:
        return list(hotspots), []
    from burnwatch.detect.exclusion import apply_exclusions

    kept, suppressed = apply_exclusions(hotspots, zones)
    suppressed = [h if "suppressed" in h.flags else h.with_flags("suppressed") for h in suppressed]
    for h in suppressed:
        log.info("suppressed hotspot at %.5f,%.5f: %s", h.lon, h.lat, ", ".join(h.flags))
    return list(kept), suppressed


def split_source_flagged(hotspots: Sequence[Hotspot]) -> tuple[list[Hotspot], list[Hotspot]]:
    """(kept, suppressed): hotspots their source already marked as static heat sources (a
    ``static_source:`` flag, e.g. FIRMS ``type`` 1-3: volcano, industrial site, gas flare) are
    suppressed like exclusion-layer hits, with the ``suppressed`` flag; order is preserved."""
    from burnwatch.detect.exclusion import FLAG_PREFIX

    kept: list[Hotspot] = []
    suppressed: list[Hotspot] = []
    for h in hotspots:
        if any(f.startswith(FLAG_PREFIX) for f in h.flags):
            suppressed.append(h.with_flags("suppressed"))
        else:
            kept.append(h)
    return kept, suppressed


def firms_type_counts(hotspots: Sequence[Hotspot]) -> dict[str, int]:
    """Hotspots per FIRMS ``type`` label (only those whose product has the column)."""
    from burnwatch.sources.firms import FIRMS_TYPES

    counts: dict[str, int] = {}
    for h in hotspots:
        kind = h.attributes.get("firms_type")
        if isinstance(kind, int) and kind in FIRMS_TYPES:
            counts[FIRMS_TYPES[kind]] = counts.get(FIRMS_TYPES[kind], 0) + 1
    return counts


def clip_to_aoi(hotspots: Sequence[Hotspot], aoi: AOI | None) -> tuple[list[Hotspot], int]:
    """(hotspots whose WGS84 point lies inside or on the AOI, number left out); all kept without AOI."""
    if aoi is None or not hotspots:
        return list(hotspots), 0
    import numpy as np
    import shapely

    points = shapely.points(np.array([[h.lon, h.lat] for h in hotspots], dtype=float))
    inside = shapely.covers(aoi.geometry, points)
    kept = [h for h, ok in zip(hotspots, inside, strict=True) if ok]
    return kept, len(hotspots) - len(kept)


def within_window(
    hotspots: Sequence[Hotspot], window: tuple[datetime, datetime] | None
) -> tuple[list[Hotspot], int]:
    """(hotspots acquired in the inclusive UTC ``window``, number left out); all kept without one."""
    if window is None:
        return list(hotspots), 0
    start, end = window
    kept = [h for h in hotspots if start <= h.time <= end]
    return kept, len(hotspots) - len(kept)


def drop_duplicates(hotspots: Sequence[Hotspot]) -> tuple[list[Hotspot], int]:
    """(hotspots with each :attr:`Hotspot.natural_key` once, the first kept; number dropped)."""
    seen: set[tuple[str, str, str, str, float, float]] = set()
    kept: list[Hotspot] = []
    for h in hotspots:
        if h.natural_key not in seen:
            seen.add(h.natural_key)
            kept.append(h)
    return kept, len(hotspots) - len(kept)


#: Overlays written next to a scene's ``<name>_fire.tif`` (listed in manifests only since they
#: are cleaned up; older manifests list just the COG).
_OVERLAY_SUFFIXES = ("_quicklook.png", "_firemask.png")


def previous_outputs(out_dir: Path) -> dict[Path, str | None]:
    """Files an earlier scan wrote to ``out_dir`` per its ``manifest.json`` (path -> sha256;
    None for overlays implied by a listed fire COG); empty without a readable manifest."""
    from burnwatch.errors import CorruptFileError
    from burnwatch.publish.manifest import read_manifest

    path = Path(out_dir) / "manifest.json"
    if not path.is_file():
        return {}
    try:
        manifest = read_manifest(path)
    except CorruptFileError:
        return {}
    found: dict[Path, str | None] = {}
    for record in manifest.outputs:
        rel = Path(record.path or "")
        if record.kind != "file" or not record.path or rel.is_absolute() or ".." in rel.parts:
            continue  # only files below out_dir are ever removed
        found[Path(out_dir) / rel] = record.sha256
        if rel.parent.name == "scenes" and rel.name.endswith("_fire.tif"):
            for suffix in _OVERLAY_SUFFIXES:
                found.setdefault(Path(out_dir) / rel.parent / (rel.name[: -len("_fire.tif")] + suffix), None)
    return found


def remove_stale_outputs(previous: Mapping[Path, str | None], current: Iterable[Path]) -> list[Path]:
    """Delete what an earlier run wrote (``previous``) and this one did not (``current``), so a
    reused ``--out`` folder describes only this run. A file whose content no longer matches the
    earlier manifest was changed by someone else and is kept. Returns the removed paths."""
    from burnwatch.incidents.evidence import sha256_file

    keep = {Path(p).resolve() for p in current}
    removed: list[Path] = []
    for path, sha in previous.items():
        if path.resolve() in keep or not path.is_file():
            continue
        if sha is not None and sha256_file(path) != sha:
            log.warning("%s: left in place (changed since the run that wrote it)", path)
            continue
        path.unlink()
        removed.append(path)
    for folder in {p.parent for p in removed}:
        if folder.name == "scenes" and not any(folder.iterdir()):
            folder.rmdir()
    return removed


def run_scan(
    scenes: Iterable[Scene],
    out_dir: Path,
    options: ScanOptions = ScanOptions(),
    *,
    extra_hotspots: Sequence[Hotspot] = (),
    inputs: Sequence[str | Path] = (),
    parameters: dict[str, object] | None = None,
    progress: Progress | None = None,
    total: int | None = None,
    aoi: AOI | None = None,
    window: tuple[datetime, datetime] | None = None,
    input_errors: Sequence[BurnwatchError | str] = (),
    exclusion_zones: Sequence[ExclusionZone] | None = None,
) -> ScanResult:
    """Run a scan over ``scenes`` (any iterable, e.g. a source's ``.scenes(...)``) and publish.

    ``extra_hotspots`` come from hotspot sources such as FIRMS. ``inputs`` (files or request
    identifiers) and ``parameters`` go into the run manifest. Outputs in ``out_dir``:
    ``hotspots.geojson``, ``hotspots.gpkg``, ``suppressed.geojson`` (when any),
    ``scenes/*_fire.tif`` COGs, ``map.html`` (+ ``vendor/``) and ``manifest.json``. When
    ``out_dir`` holds an earlier scan, the files its manifest lists that this run did not write
    again (other scenes' COGs and overlays, an old ``suppressed.geojson``) are removed after the
    new manifest is written; nothing else in the folder is touched.

    With ``aoi`` (WGS84), hotspots whose point lies outside it (scene pixels beyond the AOI,
    hotspot-source points) are dropped and counted (``counts.outside_aoi`` in the manifest).
    With ``window`` (aware UTC, inclusive), hotspots acquired outside it are dropped
    (``counts.outside_window``): hotspot files such as FIRMS CSVs are not filtered by date
    when read. Hotspots found twice (overlapping FIRMS exports, repeated rows, a scene given twice) are
    kept once, by :attr:`Hotspot.natural_key` (``counts.duplicates``).

    ``input_errors`` (files that could not be read, bad CSV rows, failed requests) are read
    after the scenes are consumed, so a source's live ``.errors`` list can be passed; they
    come first in :attr:`ScanResult.errors` and the manifest's ``errors``, then the scenes
    that failed. Inputs that do not exist are listed in the manifest as ``missing``.
    The exclusion layer is loaded before the first scene (or ``exclusion_zones`` used).
    """
    from burnwatch.publish.manifest import write_manifest
    from burnwatch.publish.vector import write_hotspots
    from burnwatch.publish.webmap import hotspot_map

    started = datetime.now(timezone.utc)
    out_dir = prepare_out_dir(out_dir)
    earlier = previous_outputs(out_dir)  # removed at the end unless this run writes them again
    zones = exclusion_zones if exclusion_zones is not None else load_exclusion_layer(options)
    products: list[SceneProduct] = []
    scene_errors: list[str] = []
    warnings: list[str] = []
    for done, scene in enumerate(scenes, start=1):
        try:
            product = process_scene(scene, out_dir, options)
        except BurnwatchError as exc:
            # Reported once, by the caller, from ScanResult.errors (logged at INFO only).
            scene_errors.append(_scene_error(scene.scene_id, exc.message))
            log.info("%s", scene_errors[-1])
        else:
            products.append(product)
            if product.valid_pixels == 0:
                warnings.append(f"scene {scene.scene_id}: no valid pixel (all nodata or masked)")
        if progress:
            progress(done, total, scene.scene_id)

    found = [h for p in products for h in p.hotspots] + list(extra_hotspots)
    found, outside_aoi = clip_to_aoi(found, aoi)
    found, outside_window = within_window(found, window)
    found, duplicates = drop_duplicates(found)
    errors = [e.message if isinstance(e, BurnwatchError) else str(e) for e in input_errors] + scene_errors
    kept, suppressed = apply_exclusion_layer(found, options, zones)
    kept, by_source = split_source_flagged(kept)  # e.g. FIRMS type 2 (industrial) / 3 (offshore)
    suppressed += by_source
    outputs: dict[str, Path] = {
        "hotspots_geojson": write_hotspots(kept, out_dir / "hotspots.geojson"),
        "hotspots_gpkg": write_hotspots(kept, out_dir / "hotspots.gpkg"),
    }
    if suppressed:
        outputs["suppressed_geojson"] = write_hotspots(suppressed, out_dir / "suppressed.geojson")
    for p in products:
        outputs[f"fire_cog:{p.scene_id}"] = p.fire_cog
    # Only the first scene's quicklook is switched on, so several scenes don't hide each other.
    overlays = [
        replace(ov, show=ov.show and (i == 0 or "fire mask" in ov.name))
        for i, ov in enumerate(o for p in products for o in p.overlays)
    ]
    pngs: list[Path] = []
    outputs["map"] = hotspot_map(
        [*kept, *suppressed], out_dir / "map.html", overlays, title=options.title, tile_url=options.tile_url,
        written=pngs,
    )
    outputs.update({f"overlay:{png.relative_to(out_dir).as_posix()}": png for png in pngs})
    algorithms = {p.algorithm: p.algorithm_version for p in products}
    for h in extra_hotspots:
        algorithms.setdefault(h.algorithm, h.algorithm_version)
    params: dict[str, object] = {
        **(parameters or {}),
        "options": options.as_dict(),
        "scenes": [
            {
                "scene_id": p.scene_id,
                "time": p.time.isoformat(),
                "algorithm": p.algorithm,
                "tests_run": list(p.tests_run),
                "fire_pixels": p.fire_pixels,
                "valid_pixels": p.valid_pixels,
                "hotspots": len(p.hotspots),
                "seconds": round(p.seconds, 3),
            }
            for p in products
        ],
        "errors": errors,
        "warnings": warnings,
        "counts": {"hotspots": len(kept), "suppressed": len(suppressed), "outside_aoi": outside_aoi,
                   "outside_window": outside_window, "duplicates": duplicates,
                   "suppressed_by_source": len(by_source), "firms_type": firms_type_counts(found)},
    }
    outputs["manifest"] = write_manifest(
        out_dir / "manifest.json",
        inputs=list(inputs),
        outputs=[p for k, p in outputs.items() if k != "manifest"],
        parameters=params,
        algorithms=algorithms,
        started=started,
        missing_inputs="record",
    )
    remove_stale_outputs(earlier, outputs.values())
    return ScanResult(out_dir, kept, suppressed, products, errors, outputs, outside_aoi=outside_aoi,
                      duplicates=duplicates, outside_window=outside_window, warnings=warnings)
