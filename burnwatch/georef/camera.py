"""Frame-camera georeferencing: pixel <-> ground for drone photos.

Model
-----
* Pinhole camera with principal point and Brown–Conrady distortion (radial k1, k2, k3;
  tangential p1, p2; Brown 1966, "Decentering distortion of lenses"; the same form as
  OpenCV and the DJI ``DewarpData`` tag). Pixel coordinates are continuous with (0, 0) at
  the top-left *corner* of the top-left pixel, x right, y down (the :class:`~burnwatch.types.Box`
  convention). Camera frame: x right, y down, z forward (OpenCV).
* World frame: a projected metric CRS (a local UTM zone), x east, y north, z up, metres.
  Heights are in whatever vertical datum the pose altitude and the ground share.
* Attitude: DJI gimbal angles (degrees) as intrinsic Z-Y-X (yaw, pitch, roll) Euler angles of
  the camera's forward-right-down frame in local North-East-Down: yaw clockwise from north,
  pitch 0 = horizon, -90 = nadir, roll positive right-wing-down. Grid convergence between
  true north and UTM grid north (< 0.5° near a zone's centre) is corrected.

Ground
------
:class:`FlatGround` intersects rays with a horizontal plane; :class:`DSMGround` marches each
ray through a DSM raster (fixed step, then bisection) and reports rays that leave the DSM.
Rays that do not meet the ground within ``max_range_m`` (above the horizon) are clipped at
that range and flagged.

Uncertainty
-----------
:func:`ground_uncertainty` propagates pose uncertainty to the ground point with a numerical
Jacobian (central differences) of the intersection with respect to (x, y, z, yaw, pitch,
roll): ``C = J diag(σ²) Jᵀ`` (first-order error propagation, e.g. Mikhail, Bethel & McGlone
2001, *Introduction to Modern Photogrammetry*, §2.7). The radius returned is the DRMS
``sqrt(σx² + σy²)`` of the horizontal ground position, metres (1-sigma).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np
from shapely.geometry import Polygon

from burnwatch.errors import CRSError, InputError

#: Rays that do not reach the ground within this slant range are clipped (metres).
DEFAULT_MAX_RANGE_M = 1000.0

# forward-right-down -> camera (x right, y down, z forward): columns are camera axes in FRD.
_FRD_FROM_CAM = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
# NED -> ENU
_ENU_FROM_NED = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])


class RayMissError(InputError):
    """A pixel's ray does not meet the ground (above the horizon or outside the DSM)."""


@dataclass(frozen=True)
class Intrinsics:
    """Interior orientation, pixels, for an image of ``width`` x ``height`` pixels."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    k1: float = 0.0
    k2: float = 0.0
    p1: float = 0.0
    p2: float = 0.0
    k3: float = 0.0

    @property
    def has_distortion(self) -> bool:
        return any(abs(c) > 0.0 for c in (self.k1, self.k2, self.p1, self.p2, self.k3))

    def scaled(self, width: int, height: int) -> Intrinsics:
        """The same camera for a resized image (thumbnails, downsampled frames)."""
        sx, sy = width / self.width, height / self.height
        return replace(
            self,
            width=width,
            height=height,
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=self.cx * sx,
            cy=self.cy * sy,
        )

    def _distort(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r2 = x * x + y * y
        radial = 1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3))
        xd = x * radial + 2.0 * self.p1 * x * y + self.p2 * (r2 + 2.0 * x * x)
        yd = y * radial + self.p1 * (r2 + 2.0 * y * y) + 2.0 * self.p2 * x * y
        return xd, yd

    def project(self, xn: np.ndarray, yn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised (undistorted) image coordinates -> pixel (u, v)."""
        xd, yd = self._distort(np.asarray(xn, float), np.asarray(yn, float))
        return self.fx * xd + self.cx, self.fy * yd + self.cy

    @property
    def max_radius(self) -> float:
        """Largest normalised (undistorted) radius the radial polynomial can represent.

        ``r_d(r) = r (1 + k1 r² + k2 r⁴ + k3 r⁶)`` is one-to-one only up to its first turning
        point, where ``d r_d / d r = 1 + 3 k1 r² + 5 k2 r⁴ + 7 k3 r⁶`` reaches 0: beyond it the
        model folds back and a pixel has no unique ray. Infinite when it never turns.
        """
        return _turning_radius(self.k1, self.k2, self.k3)

    def distorted_radius(self, r: float | np.ndarray) -> np.ndarray:
        """Radial part of the distortion: normalised undistorted radius -> distorted radius."""
        ra = np.asarray(r, float)
        r2 = ra * ra
        return ra * (1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3)))

    def in_lens_range(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Pixels whose distorted radius lies inside the model's one-to-one range."""
        rmax = self.max_radius
        if not math.isfinite(rmax):
            return np.ones(np.shape(np.atleast_1d(u)), bool)
        xd = (np.atleast_1d(np.asarray(u, float)) - self.cx) / self.fx
        yd = (np.atleast_1d(np.asarray(v, float)) - self.cy) / self.fy
        return np.hypot(xd, yd) < float(self.distorted_radius(rmax)) * (1.0 - LENS_RANGE_MARGIN)

    def frame_in_lens_range(self) -> bool:
        """Whether every pixel of the frame (its four corners) has a ray."""
        w, h = float(self.width), float(self.height)
        return bool(self.in_lens_range(np.array([0.0, w, w, 0.0]), np.array([0.0, 0.0, h, h])).all())

    def clamp_to_lens_range(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Move pixels beyond the model's range radially onto its edge; returns (u, v, moved)."""
        ua, va = np.atleast_1d(np.asarray(u, float)).copy(), np.atleast_1d(np.asarray(v, float)).copy()
        out = ~self.in_lens_range(ua, va)
        if out.any():
            xd, yd = (ua[out] - self.cx) / self.fx, (va[out] - self.cy) / self.fy
            scale = float(self.distorted_radius(self.max_radius)) * (1.0 - 2.0 * LENS_RANGE_MARGIN)
            scale /= np.hypot(xd, yd)
            ua[out], va[out] = self.cx + self.fx * xd * scale, self.cy + self.fy * yd * scale
        return ua, va, out

    def unproject(self, u: np.ndarray, v: np.ndarray, iterations: int = 40) -> tuple[np.ndarray, np.ndarray]:
        """Pixel (u, v) -> normalised undistorted coordinates; NaN beyond the model's range.

        The radial polynomial is inverted on its one-to-one branch ``[0, max_radius]`` by
        Newton's method safeguarded by bisection (exact to ~1e-13, never jumping to the folded
        branch the way a plain fixed-point iteration does on strongly distorted corners); the
        small tangential terms are removed by an outer fixed-point loop.
        """
        xd = (np.asarray(u, float) - self.cx) / self.fx
        yd = (np.asarray(v, float) - self.cy) / self.fy
        if not self.has_distortion:
            return xd, yd
        bad = ~self.in_lens_range(u, v).reshape(np.shape(xd))
        xd, yd = np.where(bad, np.nan, xd), np.where(bad, np.nan, yd)
        rmax = self.max_radius
        x, y = xd.copy(), yd.copy()
        for _ in range(iterations):
            r2 = x * x + y * y
            ax = xd - (2.0 * self.p1 * x * y + self.p2 * (r2 + 2.0 * x * x))
            ay = yd - (self.p1 * (r2 + 2.0 * y * y) + 2.0 * self.p2 * x * y)
            target = np.hypot(ax, ay)
            r = self._invert_radial(target, rmax)
            with np.errstate(invalid="ignore", divide="ignore"):
                gain = np.where(target > 0.0, r / target, 1.0)
            x_new, y_new = ax * gain, ay * gain
            done = np.nanmax(np.abs(x_new - x) + np.abs(y_new - y), initial=0.0) < 1e-12
            x, y = x_new, y_new
            if done:
                break
        return x, y

    def _invert_radial(self, target: np.ndarray, rmax: float) -> np.ndarray:
        """r in [0, rmax] with distorted_radius(r) = target: Newton safeguarded by bisection."""
        lo = np.zeros_like(target)
        if math.isfinite(rmax):
            hi = np.full_like(target, rmax)
        else:  # monotone everywhere: grow the bracket until it holds the target
            hi = np.maximum(2.0 * target, 1.0)
            for _ in range(64):
                short = self.distorted_radius(hi) < target
                if not short.any():
                    break
                hi = np.where(short, 2.0 * hi, hi)
        r = np.clip(target, lo, hi)
        for _ in range(100):
            r2 = r * r
            f = self.distorted_radius(r) - target
            slope = 1.0 + r2 * (3.0 * self.k1 + r2 * (5.0 * self.k2 + r2 * 7.0 * self.k3))
            lo, hi = np.where(f < 0.0, r, lo), np.where(f < 0.0, hi, r)
            with np.errstate(invalid="ignore", divide="ignore"):
                step = r - f / slope
            ok = (slope > 0.0) & (step >= lo) & (step <= hi)
            r_new = np.where(ok, step, 0.5 * (lo + hi))
            if np.nanmax(np.abs(r_new - r), initial=0.0) < 1e-13:
                return r_new
            r = r_new
        return r


#: Why a pixel beyond :attr:`Intrinsics.max_radius` has no ray (completes "pixel (u, v) ...").
BEYOND_LENS_RANGE = (
    "lies beyond the range of the lens distortion model (the polynomial turns back there, so "
    "the pixel has no unique ray)"
)

#: Pixels within this fraction of the lens model's turning point count as beyond it: there the
#: slope d r_d / d r tends to 0 and a ray is not determined by its pixel.
LENS_RANGE_MARGIN = 0.002


@functools.lru_cache(maxsize=64)
def _turning_radius(k1: float, k2: float, k3: float) -> float:
    """First r > 0 where 1 + 3 k1 r² + 5 k2 r⁴ + 7 k3 r⁶ = 0 (inf when none)."""
    coeffs = [7.0 * k3, 5.0 * k2, 3.0 * k1, 1.0]
    while coeffs and coeffs[0] == 0.0:
        coeffs.pop(0)
    if len(coeffs) < 2:
        return math.inf
    roots = np.roots(coeffs)
    s = [float(z.real) for z in roots if abs(z.imag) < 1e-12 and z.real > 0.0]
    return math.sqrt(min(s)) if s else math.inf


def rotation_enu_from_camera(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """3x3 rotation taking camera-frame vectors (x right, y down, z forward) to ENU."""
    y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    cz, sz, cy, sy, cx, sx = math.cos(y), math.sin(y), math.cos(p), math.sin(p), math.cos(r), math.sin(r)
    rz = np.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    return _ENU_FROM_NED @ rz @ ry @ rx @ _FRD_FROM_CAM


def utm_crs_for(lon: float, lat: float) -> str:
    """EPSG code of the WGS84 UTM zone containing (lon, lat)."""
    if not (-180.0 <= lon <= 180.0 and -80.0 <= lat <= 84.0):
        raise CRSError(f"no UTM zone for lon={lon}, lat={lat}")
    zone = min(60, int((lon + 180.0) // 6.0) + 1)
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def grid_convergence_deg(lon: float, lat: float, crs: str) -> float:
    """Angle (degrees) from true north to grid north at (lon, lat) in ``crs`` (pyproj)."""
    from pyproj import CRS, Proj

    factors = Proj(CRS.from_user_input(crs)).get_factors(lon, lat)
    return float(factors.meridian_convergence)


@dataclass(frozen=True)
class Pose:
    """Exterior orientation: camera centre (x, y, z) in ``crs`` (metres) + DJI angles (degrees).

    ``yaw`` is relative to *grid* north of ``crs`` (use :meth:`from_gps` to convert from true
    north).
    """

    x: float
    y: float
    z: float
    yaw: float
    pitch: float
    roll: float
    crs: str

    @classmethod
    def from_gps(
        cls, lon: float, lat: float, z: float, yaw: float, pitch: float, roll: float, crs: str | None = None
    ) -> Pose:
        """Pose from WGS84 lon/lat (degrees), height ``z`` (m) and true-north DJI angles."""
        from pyproj import Transformer

        crs = crs or utm_crs_for(lon, lat)
        x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
        # grid yaw = true yaw - convergence (grid north lies `convergence` east of true north)
        conv = grid_convergence_deg(lon, lat, crs)
        return cls(float(x), float(y), float(z), yaw - conv, pitch, roll, crs)

    @property
    def centre(self) -> np.ndarray:
        return np.array([self.x, self.y, self.z])

    def rotation(self) -> np.ndarray:
        return rotation_enu_from_camera(self.yaw, self.pitch, self.roll)

    def perturbed(self, index: int, delta: float) -> Pose:
        names = ("x", "y", "z", "yaw", "pitch", "roll")
        return replace(self, **{names[index]: getattr(self, names[index]) + delta})


class Ground(Protocol):
    """A ground surface in the pose's CRS."""

    def intersect(
        self, origin: np.ndarray, dirs: np.ndarray, max_range: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ray (origin + t·dir, unit dirs Nx3) ∩ ground -> (Nx3 points, N bool ``hit``).

        Rays that miss are returned clipped at ``max_range`` with ``hit`` False.
        """
        ...


@dataclass(frozen=True)
class FlatGround:
    """A horizontal plane at ``elevation`` metres (e.g. the take-off point's height)."""

    elevation: float = 0.0

    def intersect(
        self, origin: np.ndarray, dirs: np.ndarray, max_range: float
    ) -> tuple[np.ndarray, np.ndarray]:
        dz = dirs[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (self.elevation - origin[2]) / dz
        hit = (dz < 0) & (t > 0) & (t <= max_range)
        t = np.where(hit, t, max_range)
        return origin[None, :] + dirs * t[:, None], hit


#: Heights outside this range (m) are no-data sentinels (-9999, -32767, 3.4e38), not terrain:
#: the lowest land is ~-430 m (Dead Sea shore), the highest 8849 m.
PLAUSIBLE_HEIGHTS_M = (-1000.0, 9000.0)


def _drop_sentinel_heights(data: np.ndarray, path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """NaN for heights no terrain has (a no-data value the file does not declare), and a note."""
    low, high = PLAUSIBLE_HEIGHTS_M
    with np.errstate(invalid="ignore"):
        bad = np.isfinite(data) & ((data < low) | (data > high))
    n = int(bad.sum())
    if not n:
        return data, ()
    values = ", ".join(f"{v:g}" for v in np.unique(data[bad])[:3])
    data = np.where(bad, np.nan, data)
    return data, (
        f"{Path(path).name}: {n} DSM cell(s) with heights outside {low:.0f}..{high:.0f} m ({values}) "
        "are taken as no-data (a no-data value the file does not declare)",
    )


class DSMGround:
    """A digital surface model raster; heights in the same vertical datum as the pose.

    Rays are marched from where they cross the DSM's maximum height in steps of half a DSM
    pixel until they pass below the surface, then refined by bisection (≈ 1 cm). A ray that
    leaves the DSM's extent (or enters nodata) first is reported as a miss.
    """

    def __init__(
        self,
        heights: np.ndarray,
        transform: object,
        crs: str,
        source: str = "DSM",
        notes: tuple[str, ...] = (),
    ) -> None:
        from affine import Affine

        self.heights = np.asarray(heights, dtype="float64")
        self.transform: Affine = transform  # type: ignore[assignment]
        self.inverse = ~self.transform
        self.crs = crs
        self.source = source
        finite = self.heights[np.isfinite(self.heights)]
        if finite.size == 0:
            raise InputError("DSM has no valid heights", path=source)
        self.zmin, self.zmax = float(finite.min()), float(finite.max())
        self.zmedian = float(np.median(finite))
        self.step = 0.5 * min(abs(self.transform.a), abs(self.transform.e))
        self.notes = notes  # what reading the DSM changed (e.g. undeclared no-data heights)

    @classmethod
    def open(cls, path: Path, crs: str | None = None) -> DSMGround:
        """Read a single-band DSM GeoTIFF (nodata -> NaN), reprojected to ``crs`` if given."""
        import warnings

        import rasterio
        from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)  # checked just below
                with rasterio.open(path) as ds:
                    if ds.crs is None:
                        raise CRSError("DSM has no CRS", path=path)
                    if ds.transform.is_identity:
                        raise CRSError("DSM has no georeferencing (no pixel-to-map transform)", path=path)
                    data = ds.read(1, masked=True).astype("float64").filled(np.nan)
                    transform, src_crs = ds.transform, ds.crs.to_string()
        except RasterioIOError as exc:
            raise InputError(f"cannot read DSM ({exc})", path=path) from exc
        data, notes = _drop_sentinel_heights(data, path)
        if crs is not None and not _same_crs(src_crs, crs):
            data, transform = _reproject(data, transform, src_crs, crs)
            src_crs = crs
        return cls(data, transform, src_crs, source=str(path), notes=notes)

    def height_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bilinear DSM height at CRS coordinates; NaN outside or on nodata."""
        inv = self.inverse
        xa, ya = np.asarray(x, float), np.asarray(y, float)
        col = inv.a * xa + inv.b * ya + inv.c
        row = inv.d * xa + inv.e * ya + inv.f
        col, row = np.asarray(col) - 0.5, np.asarray(row) - 0.5
        h, w = self.heights.shape
        c0, r0 = np.floor(col).astype(int), np.floor(row).astype(int)
        out = np.full(np.shape(col), np.nan)
        ok = (c0 >= 0) & (r0 >= 0) & (c0 + 1 < w) & (r0 + 1 < h)
        c0o, r0o = c0[ok], r0[ok]
        fc, fr = col[ok] - c0o, row[ok] - r0o
        z = self.heights
        out[ok] = (
            z[r0o, c0o] * (1 - fc) * (1 - fr)
            + z[r0o, c0o + 1] * fc * (1 - fr)
            + z[r0o + 1, c0o] * (1 - fc) * fr
            + z[r0o + 1, c0o + 1] * fc * fr
        )
        return out

    def intersect(
        self, origin: np.ndarray, dirs: np.ndarray, max_range: float
    ) -> tuple[np.ndarray, np.ndarray]:
        n = dirs.shape[0]
        dz = dirs[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            t_top = np.where(dz < 0, (self.zmax - origin[2]) / dz, 0.0)
            t_bot = np.where(dz < 0, (self.zmin - origin[2]) / dz, max_range)
        t0 = np.clip(t_top, 0.0, max_range)
        t1 = np.clip(t_bot, 0.0, max_range)
        # samples t0 + k·step for k < ceil((t1 + step - t0) / step) (np.arange's count), all rays
        # at once, in blocks of samples so that rays are dropped as soon as they are resolved
        counts = np.ceil((t1 + self.step - t0) / self.step).astype(int)
        hit = np.zeros(n, bool)
        t_hit = np.full(n, max_range)
        active = np.flatnonzero(counts > 0)
        k0, block = 0, 32
        while active.size:
            k = k0 + np.arange(block)
            ts = t0[active, None] + self.step * k[None, :]
            inside = k[None, :] < counts[active, None]
            pts = origin[None, None, :] + dirs[active, None, :] * ts[:, :, None]
            ground = self.height_at(pts[..., 0], pts[..., 1])
            below = (pts[..., 2] <= ground) & inside
            stop = (below | ~np.isfinite(ground)) & inside
            ended = stop.any(axis=1)
            first = np.argmax(stop, axis=1)
            # the first sample that is below the surface (not nodata / outside) is a hit
            got = ended & below[np.arange(active.size), first]
            self._bisect(origin, dirs, active[got], t0[active[got]], k0 + first[got], hit, t_hit)
            active = active[~ended & (k0 + block < counts[active])]
            k0 += block
            block = min(block * 2, 512)
        return origin[None, :] + dirs * t_hit[:, None], hit

    def _bisect(
        self,
        origin: np.ndarray,
        dirs: np.ndarray,
        rows: np.ndarray,
        t0: np.ndarray,
        k: np.ndarray,
        hit: np.ndarray,
        t_hit: np.ndarray,
    ) -> None:
        """Refine the crossing between samples ``k - 1`` and ``k`` (first below) to ≈ 1 cm.

        A ray whose very first sample (``k == 0``) is already below the surface hits there.
        """
        if rows.size == 0:
            return
        hi = t0 + self.step * k
        lo = hi - self.step
        for _ in range(12):
            mid = 0.5 * (lo + hi)
            p = origin[None, :] + dirs[rows] * mid[:, None]
            under = p[:, 2] <= self.height_at(p[:, 0], p[:, 1])
            hi = np.where(under, mid, hi)
            lo = np.where(under, lo, mid)
        t_hit[rows] = np.where(k == 0, t0, 0.5 * (lo + hi))
        hit[rows] = True


def _same_crs(a: str, b: str) -> bool:
    from pyproj import CRS

    return bool(CRS.from_user_input(a) == CRS.from_user_input(b))


def _reproject(data: np.ndarray, transform: object, src: str, dst: str) -> tuple[np.ndarray, object]:
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    h, w = data.shape
    left, top = transform @ (0, 0)  # type: ignore[operator]
    right, bottom = transform @ (w, h)  # type: ignore[operator]
    dst_t, dw, dh = calculate_default_transform(
        src, dst, w, h, left=left, bottom=bottom, right=right, top=top
    )
    out = np.full((dh, dw), np.nan)
    reproject(
        data,
        out,
        src_transform=transform,
        src_crs=src,
        dst_transform=dst_t,
        dst_crs=dst,
        resampling=Resampling.bilinear,
        src_nodata=np.nan,
        dst_nodata=np.nan,
    )
    return out, dst_t


@dataclass(frozen=True)
class PoseSigma:
    """1-sigma pose uncertainties. Defaults: consumer GNSS and a 3-axis DJI gimbal.

    ``horizontal_m`` is the horizontal DRMS of the camera position (split equally over x and
    y); consumer GNSS ≈ 2.5 m, RTK fixed ≈ the RtkStdLon/Lat tags (a few cm).
    """

    horizontal_m: float = 2.5
    vertical_m: float = 3.0
    yaw_deg: float = 2.0
    pitch_deg: float = 1.0
    roll_deg: float = 1.0

    def vector(self) -> np.ndarray:
        s = self.horizontal_m / math.sqrt(2.0)
        return np.array([s, s, self.vertical_m, self.yaw_deg, self.pitch_deg, self.roll_deg])


@dataclass(frozen=True)
class Camera:
    """A posed frame camera."""

    intrinsics: Intrinsics
    pose: Pose

    def rays(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Unit ray directions (Nx3, world ENU) through pixels (u, v)."""
        xn, yn = self.intrinsics.unproject(np.atleast_1d(u), np.atleast_1d(v))
        d = np.stack([xn, yn, np.ones_like(xn)], axis=-1) @ self.pose.rotation().T
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def pixel_to_ground(
        self, u: np.ndarray, v: np.ndarray, ground: Ground, max_range: float = DEFAULT_MAX_RANGE_M
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pixels -> ground points (Nx3, pose CRS) and a bool ``hit`` mask (False = clipped)."""
        return ground.intersect(self.pose.centre, self.rays(u, v), max_range)

    def ground_point(
        self, u: float, v: float, ground: Ground, max_range: float = DEFAULT_MAX_RANGE_M
    ) -> np.ndarray:
        """One pixel -> ground (x, y, z); :class:`RayMissError` when the ray misses."""
        if not self.intrinsics.in_lens_range(np.array([u]), np.array([v]))[0]:
            raise RayMissError(f"pixel ({u:.1f}, {v:.1f}) {BEYOND_LENS_RANGE}")
        pts, hit = self.pixel_to_ground(np.array([u]), np.array([v]), ground, max_range)
        if not hit[0]:
            raise RayMissError(
                f"pixel ({u:.1f}, {v:.1f}) does not meet the ground within "
                f"{max_range:.0f} m (above the horizon or outside the DSM)"
            )
        return pts[0]

    def ground_to_pixel(
        self, x: np.ndarray, y: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World points -> pixel (u, v) and ``in_front``.

        ``in_front``: the point is ahead of the camera *and* inside the lens model's one-to-one
        range (:attr:`Intrinsics.max_radius`); beyond it the distortion polynomial folds back
        and would put a point far outside the field of view onto a pixel inside the frame.
        """
        p = np.stack([np.atleast_1d(x), np.atleast_1d(y), np.atleast_1d(z)], axis=-1).astype(float)
        pc = (p - self.pose.centre) @ self.pose.rotation()
        in_front = pc[:, 2] > 1e-9
        with np.errstate(divide="ignore", invalid="ignore"):
            xn, yn = pc[:, 0] / pc[:, 2], pc[:, 1] / pc[:, 2]
            u, v = self.intrinsics.project(xn, yn)
            in_front &= np.hypot(xn, yn) < self.intrinsics.max_radius
        return u, v, in_front

    def border_pixels(
        self, per_edge: int = 32, box: tuple[float, float, float, float] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pixels densely along a rectangle's border (the whole image by default), clockwise."""
        x1, y1, x2, y2 = (
            box
            if box is not None
            else (0.0, 0.0, float(self.intrinsics.width), float(self.intrinsics.height))
        )
        s = np.linspace(0.0, 1.0, per_edge, endpoint=False)
        u = np.concatenate(
            [x1 + (x2 - x1) * s, np.full(per_edge, x2), x2 - (x2 - x1) * s, np.full(per_edge, x1)]
        )
        v = np.concatenate(
            [np.full(per_edge, y1), y1 + (y2 - y1) * s, np.full(per_edge, y2), y2 - (y2 - y1) * s]
        )
        return u, v

    def footprint(
        self,
        ground: Ground,
        per_edge: int = 32,
        max_range: float = DEFAULT_MAX_RANGE_M,
        box: tuple[float, float, float, float] | None = None,
    ) -> tuple[Polygon, bool]:
        """Ground polygon (pose CRS) of the image (or a pixel ``box``) and whether it was clipped.

        The border is sampled densely so an oblique footprint's curved/convex edges are
        followed. Border pixels beyond the lens model's one-to-one range (strongly distorted
        corners, see :attr:`Intrinsics.max_radius`) are moved radially onto its edge. Border rays
        that leave a DSM continue on a flat plane at the DSM's median height; rays that still
        miss (above the horizon) are cut at ``max_range``. ``clipped`` is True when any of
        these happened.
        """
        u, v, beyond_lens = self.intrinsics.clamp_to_lens_range(*self.border_pixels(per_edge, box))
        pts, hit = self.pixel_to_ground(u, v, ground, max_range)
        if isinstance(ground, DSMGround) and not hit.all():
            fb, _ = FlatGround(ground.zmedian).intersect(
                self.pose.centre, self.rays(u[~hit], v[~hit]), max_range
            )
            pts[~hit] = fb
        poly = Polygon(pts[:, :2])
        if not poly.is_valid:  # a self-touching border (relief, clipping): repair, keep one polygon
            fixed = poly.buffer(0)
            poly = fixed if isinstance(fixed, Polygon) else Polygon(poly.convex_hull.exterior)
        return poly, bool((~hit).any() or beyond_lens.any())


def ground_uncertainty(
    camera: Camera,
    u: float,
    v: float,
    ground: Ground,
    sigma: PoseSigma,
    max_range: float = DEFAULT_MAX_RANGE_M,
) -> float:
    """1-sigma horizontal uncertainty (DRMS, metres) of pixel (u, v)'s ground point.

    Numerical Jacobian (central differences) of the ground intersection w.r.t. the camera
    position (x, y, z) and three small attitude rotations: heading (about the vertical,
    σ_yaw), elevation (about the horizontal axis across the view, σ_pitch) and bank (about
    the horizontal view direction, σ_roll). Rotating about these fixed axes instead of
    perturbing the Euler angles keeps bank meaningful at nadir, where yaw and roll Euler
    angles coincide (gimbal lock). NaN when the ray (or a perturbed ray) misses the ground.
    """
    centre = camera.pose.centre
    ray = camera.rays(np.array([u]), np.array([v]))[0]
    psi = math.radians(camera.pose.yaw)
    axes = (
        np.array([0.0, 0.0, 1.0]),
        np.array([math.cos(psi), -math.sin(psi), 0.0]),
        np.array([math.sin(psi), math.cos(psi), 0.0]),
    )
    steps = np.array([0.1, 0.1, 0.1, 0.05, 0.05, 0.05])  # metres / degrees
    jac = np.zeros((2, 6))
    for k in range(6):
        pts = []
        for sign in (1.0, -1.0):
            origin, d = centre.copy(), ray
            if k < 3:
                origin[k] += sign * steps[k]
            else:
                d = _rotate(ray, axes[k - 3], math.radians(sign * steps[k]))
            p, hit = ground.intersect(origin, d[None, :], max_range)
            if not hit[0]:
                return float("nan")
            pts.append(p[0, :2])
        jac[:, k] = (pts[0] - pts[1]) / (2.0 * steps[k])
    cov = jac @ np.diag(sigma.vector() ** 2) @ jac.T
    return float(math.sqrt(max(0.0, cov[0, 0] + cov[1, 1])))


def _rotate(vec: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues rotation of ``vec`` about unit ``axis`` by ``angle`` radians."""
    c, s = math.cos(angle), math.sin(angle)
    return vec * c + np.cross(axis, vec) * s + axis * float(axis @ vec) * (1.0 - c)
