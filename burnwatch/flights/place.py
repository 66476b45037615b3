"""Put a photo and its detections on the ground: pose, footprint, points, polygons, error.

Heights: with a DSM the camera height is the photo's ``AbsoluteAltitude`` (+ ``alt_offset_m``
when the DSM uses another vertical datum); without one the ground is a flat plane at the
take-off elevation (``AbsoluteAltitude - RelativeAltitude``, the flight's median) or at
``ground_elevation`` when given, and the camera sits ``RelativeAltitude`` above it.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon

from burnwatch.errors import InputError
from burnwatch.georef.camera import (
    BEYOND_LENS_RANGE,
    DEFAULT_MAX_RANGE_M,
    Camera,
    DSMGround,
    FlatGround,
    Ground,
    Intrinsics,
    Pose,
    PoseSigma,
    ground_uncertainty,
)
from burnwatch.sources.drone_meta import PhotoMeta, intrinsics_from_meta
from burnwatch.types import ConfidenceClass, Detection, Hotspot

ALGORITHM = "yolo-fire-smoke"


@dataclass(frozen=True)
class HeightModel:
    """How camera heights and the ground are chosen for a flight (see module docstring)."""

    ground: Ground
    use_absolute: bool
    takeoff_elevation: float | None
    description: str
    alt_offset_m: float = 0.0
    warnings: tuple[str, ...] = ()


def height_model(
    metas: Sequence[PhotoMeta], dsm: Ground | None, ground_elevation: float | None, alt_offset_m: float = 0.0
) -> HeightModel:
    """Choose the ground and the camera-height source for a flight's valid photos."""
    if dsm is not None:
        return HeightModel(
            dsm,
            True,
            None,
            "DSM, camera height = AbsoluteAltitude" + (f" {alt_offset_m:+.2f} m" if alt_offset_m else ""),
            alt_offset_m,
            datum_warnings(metas, dsm, alt_offset_m),
        )
    takeoffs = [m.abs_alt - m.rel_alt for m in metas if m.abs_alt is not None and m.rel_alt is not None]
    if ground_elevation is not None:
        return HeightModel(
            FlatGround(ground_elevation),
            False,
            ground_elevation,
            f"flat ground at the given elevation {ground_elevation:.2f} m",
            alt_offset_m,
        )
    if takeoffs:
        z0 = statistics.median(takeoffs)
        return HeightModel(
            FlatGround(z0),
            False,
            z0,
            f"flat ground at the take-off elevation {z0:.2f} m (AbsoluteAltitude - RelativeAltitude)",
        )
    return HeightModel(FlatGround(0.0), False, 0.0, "flat ground at the take-off point (RelativeAltitude)")


#: How far (m) the take-off height may lie outside the DSM's height range before a datum warning.
DATUM_TOLERANCE_M = 10.0
#: A camera closer than this (m) above the DSM surface under it is refused (or is below it).
MIN_CLEARANCE_M = 2.0


def datum_warnings(metas: Sequence[PhotoMeta], dsm: Ground, alt_offset_m: float) -> tuple[str, ...]:
    """A warning when the photos' heights and the DSM look like different vertical datums.

    The take-off height in the photos' datum (``AbsoluteAltitude - RelativeAltitude`` + the
    offset, the flight's median) should lie within the DSM's heights (a DSM holds the ground
    and what stands on it); geoid and ellipsoid heights differ by the geoid undulation, tens of
    metres in many places. Relief larger than the offset hides it: this catches gross mismatches.
    """
    if not isinstance(dsm, DSMGround):
        return ()
    takeoffs = [m.abs_alt - m.rel_alt for m in metas if m.abs_alt is not None and m.rel_alt is not None]
    if not takeoffs:
        return ()
    z0 = statistics.median(takeoffs) + alt_offset_m
    finite = dsm.heights[np.isfinite(dsm.heights)]
    low, high = (float(q) for q in np.percentile(finite, [1.0, 99.0]))
    if low - DATUM_TOLERANCE_M <= z0 <= high + DATUM_TOLERANCE_M:
        return ()
    gap = low - z0 if z0 < low else z0 - high
    where = "below" if z0 < low else "above"
    return (
        f"take-off height {z0:.1f} m (AbsoluteAltitude - RelativeAltitude"
        + (f" {alt_offset_m:+.1f} m" if alt_offset_m else "")
        + f") lies {gap:.1f} m {where} the DSM's heights ({low:.1f}–{high:.1f} m, 1st–99th percentile): "
        "the photos and the DSM are probably in different vertical datums (geoid vs ellipsoid); "
        "placements will be off — pass the difference as --alt-offset",
    )


def misses_dsm(camera: Camera, ground: Ground, max_range: float, grid: int = 5) -> str | None:
    """A report line when no ray of a ``grid`` x ``grid`` pixel lattice meets the DSM, else None.

    Then the DSM does not cover what the photo sees (another area, or a wrong CRS): the
    footprint falls back to a flat plane and no detection can be placed.
    """
    if not isinstance(ground, DSMGround):
        return None
    w, h = camera.intrinsics.width, camera.intrinsics.height
    uu, vv = np.meshgrid((np.arange(grid) + 0.5) * w / grid, (np.arange(grid) + 0.5) * h / grid)
    u, v, _ = camera.intrinsics.clamp_to_lens_range(uu.ravel(), vv.ravel())
    _, hit = camera.pixel_to_ground(u, v, ground, max_range)
    if hit.any():
        return None
    return (
        f"no ray of the photo meets the DSM ({Path(ground.source).name}): it does not cover what the "
        "photo sees (another area or a wrong CRS?); footprint drawn on a flat plane at the DSM's "
        "median height, detections not placed"
    )


def camera_for(meta: PhotoMeta, hm: HeightModel, crs: str) -> Camera:
    """The posed camera of a validated photo in ``crs`` (a metric CRS, usually UTM)."""
    assert meta.lon is not None and meta.lat is not None
    if hm.use_absolute:
        if meta.abs_alt is None:
            raise InputError(
                "no AbsoluteAltitude/GPS altitude to place the camera over the DSM", path=meta.path
            )
        z = meta.abs_alt + hm.alt_offset_m
    elif meta.rel_alt is not None:
        z = (hm.takeoff_elevation or 0.0) + meta.rel_alt
    else:
        raise InputError(
            "no RelativeAltitude: height above ground unknown (give a DSM or a ground elevation)",
            path=meta.path,
        )
    yaw = meta.camera_yaw if meta.camera_yaw is not None else 0.0
    pitch = meta.gimbal_pitch if meta.gimbal_pitch is not None else -90.0
    roll = meta.gimbal_roll if meta.gimbal_roll is not None else 0.0
    intr, _ = intrinsics_from_meta(meta)
    pose = Pose.from_gps(meta.lon, meta.lat, z, yaw, pitch, roll, crs=crs)
    if isinstance(hm.ground, DSMGround):
        below = float(hm.ground.height_at(np.array([pose.x]), np.array([pose.y]))[0])
        if math.isfinite(below) and z < below + MIN_CLEARANCE_M:
            gap = f"only {z - below:.1f} m above" if z >= below else f"{below - z:.1f} m below"
            raise InputError(
                f"camera height {z:.1f} m is {gap} the DSM surface ({below:.1f} m) under it: "
                "AbsoluteAltitude and the DSM are probably in different vertical datums "
                "(pass the difference as --alt-offset)",
                path=meta.path,
            )
    return Camera(intr, pose)


def lens_range_message(name: str, intrinsics: Intrinsics, source: str) -> str | None:
    """A report line when the lens model cannot give every pixel of the frame a ray, else None."""
    if intrinsics.frame_in_lens_range():
        return None
    radius_px = float(intrinsics.distorted_radius(intrinsics.max_radius)) * intrinsics.fx
    return (
        f"{name}: the lens distortion model ({source}) turns back {radius_px:.0f} px from the optical "
        "centre, inside the frame: the corners beyond have no unique ray; footprint cut there, "
        "detections there not placed"
    )


def sigma_for(meta: PhotoMeta, default: PoseSigma) -> PoseSigma:
    """Pose uncertainty: RTK standard deviations when the photo carries them, else ``default``."""
    if meta.rtk_std_lon is not None and meta.rtk_std_lat is not None:
        h = max(0.02, math.hypot(meta.rtk_std_lon, meta.rtk_std_lat))
        v = max(0.03, meta.rtk_std_hgt if meta.rtk_std_hgt is not None else default.vertical_m)
        return PoseSigma(h, v, default.yaw_deg, default.pitch_deg, default.roll_deg)
    return default


def confidence_class(score: float) -> ConfidenceClass:
    return "high" if score >= 0.7 else "nominal" if score >= 0.4 else "low"


def to_wgs84(geom: Polygon, crs: str) -> Polygon:
    from pyproj import Transformer

    t = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    out: Polygon = shapely.transform(geom, lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))
    return out


@dataclass
class PlacedDetection:
    """A detection on the ground (centre, polygon in both CRSs, error) and its hotspot."""

    detection: Detection
    x: float
    y: float
    z: float
    lon: float
    lat: float
    polygon_native: Polygon
    polygon: Polygon
    uncertainty_m: float
    hotspot: Hotspot


def place_detections(
    camera: Camera,
    meta: PhotoMeta,
    detections: Sequence[Detection],
    ground: Ground,
    sigma: PoseSigma,
    flight_id: str,
    time: datetime,
    time_flag: str | None,
    max_range: float = DEFAULT_MAX_RANGE_M,
) -> tuple[list[PlacedDetection], list[str]]:
    """Georeference detections; returns the placed ones and a message per one that missed."""
    from pyproj import Transformer

    crs = camera.pose.crs
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    placed: list[PlacedDetection] = []
    messages: list[str] = []
    for det in detections:
        u, v = det.box.centre
        if not camera.intrinsics.in_lens_range(np.array([u]), np.array([v]))[0]:
            messages.append(
                f"{meta.name}: {det.class_name} box at ({u:.0f}, {v:.0f}) px {BEYOND_LENS_RANGE}; not placed"
            )
            continue
        pts, hit = camera.pixel_to_ground(np.array([u]), np.array([v]), ground, max_range)
        if not hit[0]:
            messages.append(
                f"{meta.name}: {det.class_name} box at ({u:.0f}, {v:.0f}) px does not meet the ground "
                f"within {max_range:.0f} m (above the horizon or outside the DSM); not placed"
            )
            continue
        x, y, z = (float(c) for c in pts[0])
        poly_native, clipped = camera.footprint(
            ground, per_edge=8, max_range=max_range, box=(det.box.x1, det.box.y1, det.box.x2, det.box.y2)
        )
        poly = to_wgs84(poly_native, crs)
        lon, lat = to_ll.transform(x, y)
        unc = ground_uncertainty(camera, u, v, ground, sigma, max_range)
        b = det.box
        flags = ((time_flag,) if time_flag else ()) + (("box-clipped",) if clipped else ())
        hs = Hotspot(
            source="drone",
            sensor=meta.model or "unknown camera",
            algorithm=ALGORITHM,
            time=time,
            lon=float(lon),
            lat=float(lat),
            confidence=float(min(1.0, max(0.0, det.score))),
            confidence_class=confidence_class(det.score),
            footprint=poly,
            crs=crs,
            x=x,
            y=y,
            footprint_native=poly_native,
            pixel_count=round(b.area),
            uncertainty_m=None if math.isnan(unc) else round(unc, 2),
            scene_id=f"{flight_id}/{meta.name}",
            kind="smoke" if det.class_name == "smoke" else "fire",
            attributes={
                "flight_id": flight_id,
                "photo": meta.name,
                "photo_sha256": meta.sha256,
                "box_x1": round(b.x1, 1),
                "box_y1": round(b.y1, 1),
                "box_x2": round(b.x2, 1),
                "box_y2": round(b.y2, 1),
                "score": round(det.score, 4),
                "ground_z": round(z, 2),
            },
            flags=flags,
        )
        placed.append(PlacedDetection(det, x, y, z, float(lon), float(lat), poly_native, poly, unc, hs))
    return placed, messages


def photo_time(meta: PhotoMeta, utc_offset_h: float | None = None) -> tuple[datetime, str]:
    """The photo's UTC time and a flag saying how it was obtained.

    EXIF DateTimeOriginal is the camera clock with no time zone; DJI apps set it from the
    phone, i.e. to the local time where the aircraft flies (UTC+7 in Vietnam). With
    ``utc_offset_h`` it is converted with that offset (flag ``camera-clock-utc-offset``);
    by default it is read as local time in the time zone at the photo's GPS position
    (:func:`local_zone`, tz database rules incl. daylight saving; flag
    ``camera-clock-local-zone``); a position without a zone is read as UTC (flag
    ``camera-clock-time``). Photos without a time use the file's modification time (flag
    ``time-from-file-mtime``).
    """
    from datetime import timedelta, timezone
    from zoneinfo import ZoneInfo

    if meta.time is None:
        return datetime.fromtimestamp(
            Path(meta.path).stat().st_mtime, tz=timezone.utc
        ), "time-from-file-mtime"
    if utc_offset_h is not None:
        return (meta.time - timedelta(hours=utc_offset_h)).replace(
            tzinfo=timezone.utc
        ), "camera-clock-utc-offset"
    zone = local_zone(meta.lon, meta.lat) if meta.lon is not None and meta.lat is not None else None
    if zone is None:
        return meta.time.replace(tzinfo=timezone.utc), "camera-clock-time"
    return meta.time.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc), "camera-clock-local-zone"


@functools.lru_cache(maxsize=256)
def local_zone(lon: float, lat: float) -> str | None:
    """IANA time zone at a WGS84 position (``timezonefinder``'s offline boundary data; the
    open sea gets its nautical ``Etc/GMT±N`` zone), None when none is found."""
    zone = _finder().timezone_at(lng=lon, lat=lat)
    return str(zone) if zone else None


@functools.lru_cache(maxsize=1)
def _finder() -> Any:
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()
