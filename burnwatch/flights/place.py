"""Put a photo and its detections on the ground: pose, footprint, points, polygons, error.

Heights: with a DSM, or a flat ground at a given ``ground_elevation`` (in the datum of the
photos' ``AbsoluteAltitude``), the camera height is the photo's ``AbsoluteAltitude``
(+ ``alt_offset_m`` when the ground uses another vertical datum). Otherwise the ground is a
flat plane at the take-off elevation (``AbsoluteAltitude - RelativeAltitude``, the flight's
median) and the camera sits ``RelativeAltitude`` above it. A camera less than
:data:`MIN_CLEARANCE_M` above the ground under it (on the ground before take-off, or heights
in different datums) is refused.
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
            (*(dsm.notes if isinstance(dsm, DSMGround) else ()), *datum_warnings(metas, dsm, alt_offset_m)),
        )
    takeoffs = [m.abs_alt - m.rel_alt for m in metas if m.abs_alt is not None and m.rel_alt is not None]
    if ground_elevation is not None:
        return HeightModel(
            FlatGround(ground_elevation),
            True,
            None,
            f"flat ground at the given elevation {ground_elevation:.2f} m, camera height = AbsoluteAltitude"
            + (f" {alt_offset_m:+.2f} m" if alt_offset_m else ""),
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
    dsm = isinstance(hm.ground, DSMGround)
    if hm.use_absolute:
        if meta.abs_alt is None:
            raise InputError(
                "no AbsoluteAltitude/GPS altitude to place the camera over the "
                + ("DSM" if dsm else "given ground elevation (without it, RelativeAltitude is used)"),
                path=meta.path,
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
    _check_clearance(meta, hm, pose, z)
    return Camera(intr, pose)


def _check_clearance(meta: PhotoMeta, hm: HeightModel, pose: Pose, z: float) -> None:
    """Refuse a camera on, below or within :data:`MIN_CLEARANCE_M` of the ground under it."""
    ground = hm.ground
    if isinstance(ground, DSMGround):
        below = float(ground.height_at(np.array([pose.x]), np.array([pose.y]))[0])
        surface = "the DSM surface"
    elif isinstance(ground, FlatGround):
        below, surface = ground.elevation, "the flat ground"
    else:
        return
    if not math.isfinite(below) or z >= below + MIN_CLEARANCE_M:
        return
    gap = f"only {z - below:.1f} m above" if z >= below else f"{below - z:.1f} m below"
    if not hm.use_absolute:
        cause = "taken on the ground, before take-off or after landing?"
        what = f"RelativeAltitude {meta.rel_alt:+.1f} m: the camera is {gap} the take-off point"
    else:
        cause = (
            "AbsoluteAltitude and the ground heights are probably in different vertical datums "
            "(pass the difference as --alt-offset)"
        )
        what = f"camera height {z:.1f} m is {gap} {surface} ({below:.1f} m) under it"
    raise InputError(f"{what}: {cause}", path=meta.path)


#: No survey drone flies faster (DJI M300/M350 23 m/s, Mavic 3 21 m/s); a position that implies
#: more, to both of its neighbours in time, is a GNSS glitch.
MAX_DRONE_SPEED_MS = 40.0


def gps_jumps(metas: Sequence[PhotoMeta], max_speed: float = MAX_DRONE_SPEED_MS) -> dict[str, str]:
    """``{photo path: message}`` for photos whose GPS position jumps away from the flight.

    Photos are taken in time order; a photo is a glitch when reaching it from the previous photo
    *and* leaving it for the next one would need more than ``max_speed`` while the previous and
    next photos are consistent with each other (one bad fix, not a fast leg). Times are whole
    seconds, so intervals count at least 1 s. Photos without a time are not judged.
    """
    from pyproj import Geod

    timed = sorted((m for m in metas if m.time is not None and m.has_gps), key=lambda m: (m.time, m.name))
    geod = Geod(ellps="WGS84")

    def speed(a: PhotoMeta, b: PhotoMeta) -> tuple[float, float]:
        assert a.time is not None and b.time is not None
        dist = float(geod.inv(a.lon, a.lat, b.lon, b.lat)[2])
        return dist, dist / max(1.0, abs((b.time - a.time).total_seconds()))

    out: dict[str, str] = {}
    for prev, cur, nxt in zip(timed, timed[1:], timed[2:], strict=False):
        (d_in, v_in), (_, v_out), (_, v_skip) = speed(prev, cur), speed(cur, nxt), speed(prev, nxt)
        if v_in > max_speed and v_out > max_speed and v_skip <= max_speed:
            out[cur.path] = (
                f"GPS position jumps {d_in:.0f} m from the photo before it ({v_in:.0f} m/s, and "
                f"{v_out:.0f} m/s to the next; no drone flies faster than {max_speed:.0f} m/s): a GNSS "
                "glitch; not placed"
            )
    return out


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
            up = camera.rays(np.array([u]), np.array([v]))[0][2] >= 0.0
            why = (
                "it points above the horizon"
                if up
                else "it leaves the DSM or crosses a nodata hole of it"
                if isinstance(ground, DSMGround)
                else "it is too close to the horizon"
            )
            messages.append(
                f"{meta.name}: {det.class_name} box at ({u:.0f}, {v:.0f}) px does not meet the ground "
                f"within {max_range:.0f} m ({why}); not placed"
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


def photo_time(
    meta: PhotoMeta, utc_offset_h: float | None = None, zip_entry_time: bool = False
) -> tuple[datetime, str]:
    """The photo's UTC time and a flag saying how it was obtained.

    EXIF DateTimeOriginal is the camera clock with no time zone; DJI apps set it from the
    phone, i.e. to the local time where the aircraft flies (UTC+7 in Vietnam). With
    ``utc_offset_h`` it is converted with that offset (flag ``camera-clock-utc-offset``);
    by default it is read as local time in the time zone at the photo's GPS position
    (:func:`local_zone`, tz database rules incl. daylight saving; flag
    ``camera-clock-local-zone``); a position without a zone is read as UTC (flag
    ``camera-clock-time``). Photos without a time use the file's modification time (flag
    ``time-from-file-mtime``). For a photo extracted from a zip (``zip_entry_time``) that is
    the zip entry's time, a wall-clock reading without a zone like the camera clock (the
    extraction stores its digits as UTC), converted the same way (flag ``time-from-zip-entry``).
    """
    from datetime import timedelta, timezone
    from zoneinfo import ZoneInfo

    clock, flag = meta.time, None
    if clock is None:
        stamp = datetime.fromtimestamp(Path(meta.path).stat().st_mtime, tz=timezone.utc)
        if not zip_entry_time:
            return stamp, "time-from-file-mtime"
        clock, flag = stamp.replace(tzinfo=None), "time-from-zip-entry"
    if utc_offset_h is not None:
        return (clock - timedelta(hours=utc_offset_h)).replace(
            tzinfo=timezone.utc
        ), flag or "camera-clock-utc-offset"
    zone = local_zone(meta.lon, meta.lat) if meta.lon is not None and meta.lat is not None else None
    if zone is None:
        return clock.replace(tzinfo=timezone.utc), flag or "camera-clock-time"
    return clock.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc), flag or "camera-clock-local-zone"


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
