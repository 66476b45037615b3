"""Synthetic drone photos with a KNOWN pose for the drone tests.

The renderer here is deliberately independent of ``burnwatch.georef.camera``: it works in a
local East-North-Up tangent frame at the camera (pyproj ``topocentric``, no UTM, no grid
convergence) and builds the camera axes from look-at vectors, not Euler matrices. Markers
(orange disks) are drawn where ground points project; the test then checks that the
pipeline puts them back on the ground where they were.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from burnwatch.types import Box, Detection


def _dms(value: float) -> tuple[float, float, float]:
    a = abs(value)
    d = int(a)
    m = int((a - d) * 60)
    s = (a - d - m / 60) * 3600
    return (float(d), float(m), round(s, 6))


def xmp_packet(attrs: dict[str, object]) -> bytes:
    body = "\n".join(f'   drone-dji:{k}="{v}"' for k, v in attrs.items())
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="DJI Meta Data" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"\n'
        '    xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"\n   tiff:Make="DJI"\n'
        f"{body}>\n  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode()


def insert_xmp(jpeg: bytes, packet: bytes) -> bytes:
    """Insert an XMP APP1 segment right after the JPEG SOI marker."""
    assert jpeg[:2] == b"\xff\xd8"
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


@dataclass
class ShotSpec:
    lon: float
    lat: float
    abs_alt: float  # m
    rel_alt: float | None  # m above take-off
    yaw: float  # deg, clockwise from true north
    pitch: float  # deg, -90 nadir
    width: int = 1368
    height: int = 912
    focal_px: float = 916.0
    time: datetime | None = datetime(2026, 3, 1, 9, 30, 0)
    model: str = "FC6310"
    exif_gps: bool = True
    xmp_gps: bool = True
    attitude: bool = True  # write the Gimbal*/Flight* angle tags


def enu_of(lon: np.ndarray, lat: np.ndarray, h: np.ndarray, origin: tuple[float, float, float]) -> np.ndarray:
    from pyproj import Transformer

    t = Transformer.from_pipeline(
        f"+proj=pipeline +step +proj=cart +ellps=WGS84 +step +proj=topocentric +ellps=WGS84 "
        f"+lon_0={origin[0]} +lat_0={origin[1]} +h_0={origin[2]}"
    )
    return np.stack(t.transform(np.atleast_1d(lon), np.atleast_1d(lat), np.atleast_1d(h)), -1)


def project_markers(
    spec: ShotSpec, markers_lonlat: np.ndarray, ground_h: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel (u, v) of ground markers (lon, lat at ellipsoidal height ``ground_h``)."""
    p = enu_of(
        markers_lonlat[:, 0],
        markers_lonlat[:, 1],
        np.full(len(markers_lonlat), ground_h),
        (spec.lon, spec.lat, spec.abs_alt),
    )
    psi, th = math.radians(spec.yaw), math.radians(spec.pitch)
    fwd = np.array([math.sin(psi) * math.cos(th), math.cos(psi) * math.cos(th), math.sin(th)])
    right = np.array([math.cos(psi), -math.sin(psi), 0.0])
    down = np.cross(fwd, right)
    z = p @ fwd
    u = spec.focal_px * (p @ right) / z + spec.width / 2
    v = spec.focal_px * (p @ down) / z + spec.height / 2
    return u, v


def render(
    spec: ShotSpec, uv: tuple[np.ndarray, np.ndarray], radius: float = 6.0, seed: int = 0
) -> np.ndarray:
    """Grey-green textured ground with orange disks centred on ``uv`` (pixel-corner origin)."""
    rng = np.random.default_rng(seed)
    img = np.empty((spec.height, spec.width, 3), np.uint8)
    img[..., 0] = 70 + rng.integers(0, 30, (spec.height, spec.width), dtype=np.uint8)
    img[..., 1] = 100 + rng.integers(0, 30, (spec.height, spec.width), dtype=np.uint8)
    img[..., 2] = 60 + rng.integers(0, 20, (spec.height, spec.width), dtype=np.uint8)
    yy, xx = np.mgrid[0 : spec.height, 0 : spec.width]
    for u, v in zip(*uv, strict=True):
        if not (radius < u < spec.width - radius and radius < v < spec.height - radius):
            continue
        y0, y1 = int(v - radius - 2), int(v + radius + 3)
        x0, x1 = int(u - radius - 2), int(u + radius + 3)
        d2 = (xx[y0:y1, x0:x1] + 0.5 - u) ** 2 + (yy[y0:y1, x0:x1] + 0.5 - v) ** 2
        img[y0:y1, x0:x1][d2 <= radius**2] = (255, 140, 0)
    return img


def write_photo(
    path: Path,
    spec: ShotSpec,
    rgb: np.ndarray | None = None,
    quality: int = 95,
    extra_xmp: dict[str, object] | None = None,
) -> Path:
    """Save a JPEG with EXIF (GPS IFD, make/model, time, focal length) and DJI XMP."""
    if rgb is None:
        rgb = np.full((spec.height, spec.width, 3), 90, np.uint8)
    img = Image.fromarray(rgb)
    exif = Image.Exif()
    exif[0x010F] = "DJI"
    exif[0x0110] = spec.model
    if spec.time is not None:
        exif[0x0132] = spec.time.strftime("%Y:%m:%d %H:%M:%S")
        exif.get_ifd(0x8769)[36867] = spec.time.strftime("%Y:%m:%d %H:%M:%S")
    if spec.exif_gps:
        gps = exif.get_ifd(0x8825)
        gps.update(
            {
                0: b"\x02\x03\x00\x00",
                1: "N" if spec.lat >= 0 else "S",
                2: _dms(spec.lat),
                3: "E" if spec.lon >= 0 else "W",
                4: _dms(spec.lon),
                5: b"\x00",
                6: float(spec.abs_alt),
            }
        )
    attrs: dict[str, object] = {"AbsoluteAltitude": f"{spec.abs_alt:+.2f}"}
    if spec.rel_alt is not None:
        attrs["RelativeAltitude"] = f"{spec.rel_alt:+.2f}"
    if spec.xmp_gps:
        attrs["GpsLatitude"] = f"{spec.lat:.9f}"
        attrs["GpsLongtitude"] = f"{spec.lon:.9f}"
    if spec.attitude:
        attrs.update(
            {
                "GimbalRollDegree": "+0.00",
                "GimbalYawDegree": f"{spec.yaw:+.2f}",
                "GimbalPitchDegree": f"{spec.pitch:+.2f}",
                "FlightRollDegree": "+1.50",
                "FlightYawDegree": f"{spec.yaw + 3.0:+.2f}",
                "FlightPitchDegree": "-4.00",
            }
        )
    attrs.update(
        {
            "CalibratedFocalLength": f"{spec.focal_px:.6f}",
            "CalibratedOpticalCenterX": f"{spec.width / 2:.6f}",
            "CalibratedOpticalCenterY": f"{spec.height / 2:.6f}",
        }
    )
    attrs.update(extra_xmp or {})
    import io

    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, exif=exif)
    path.write_bytes(insert_xmp(buf.getvalue(), xmp_packet(attrs)))
    return path


def offset_lonlat(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """A point ``east_m``/``north_m`` metres from (lon, lat) along the geodesic."""
    from pyproj import Geod

    g = Geod(ellps="WGS84")
    az = math.degrees(math.atan2(east_m, north_m))
    lo, la, _ = g.fwd(lon, lat, az, math.hypot(east_m, north_m))
    return float(lo), float(la)


def geodesic_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    from pyproj import Geod

    return float(Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)[2])


class OrangeBlobDetector:
    """Deterministic stand-in for the YOLO model: saturated orange blobs are 'fire'."""

    def __init__(self, min_area: int = 12) -> None:
        self.min_area = min_area

    def detect_sliced(self, image: np.ndarray) -> list[Detection]:
        import cv2

        r, g, b = (image[..., i].astype(int) for i in range(3))
        mask = ((r > 200) & (g > 90) & (g < 190) & (b < 80)).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        out = []
        for i in range(1, n):
            x, y, w, h, area = (int(s) for s in stats[i])
            if area >= self.min_area:
                out.append(Detection(0, "fire", 0.9, Box(float(x), float(y), float(x + w), float(y + h))))
        return out


def orange_factory() -> OrangeBlobDetector:
    return OrangeBlobDetector()


class CrashOnBlueCornerDetector(OrangeBlobDetector):
    """Kills its worker process (as the kernel's out-of-memory killer would) on a photo whose
    top-left 16x16 px are pure blue; finds orange blobs in every other photo."""

    def detect_sliced(self, image: np.ndarray) -> list[Detection]:
        corner = image[:16, :16].reshape(-1, 3).mean(axis=0)
        if corner[2] > 200 and corner[0] < 60 and corner[1] < 60:
            import os

            os._exit(137)
        return super().detect_sliced(image)


def crash_factory() -> CrashOnBlueCornerDetector:
    return CrashOnBlueCornerDetector()


def broken_model_factory() -> OrangeBlobDetector:
    """A model that cannot be loaded (as a checksum failure of the weights file would)."""
    from burnwatch.errors import ModelError

    raise ModelError("models/fire_smoke.onnx: sha256 does not match the model card")


def broken_runtime_factory() -> OrangeBlobDetector:
    """A model runtime failing with a non-burnwatch error (as onnxruntime does)."""
    raise RuntimeError("[ONNXRuntimeError] : 10 : INVALID_GRAPH")


@dataclass
class GroundTexture:
    """A flat, textured ground: a grey image ``pixels`` (rows north->south) of ``res`` metres per
    pixel centred on (lon, lat) at ellipsoidal height ``h``; the same ground seen by every photo."""

    lon: float
    lat: float
    h: float
    res: float
    pixels: np.ndarray

    @classmethod
    def random(
        cls, lon: float, lat: float, h: float, size_m: float = 500.0, res: float = 0.2, seed: int = 0
    ) -> GroundTexture:
        """Blobs and rectangles ("fields, roofs, trees") at several scales: plenty of corners."""
        import cv2

        rng = np.random.default_rng(seed)
        n = int(size_m / res)
        tex = np.zeros((n, n), np.float32)
        for cell, amp in ((200, 60.0), (40, 40.0), (8, 30.0)):
            coarse = rng.random((n // cell + 2, n // cell + 2)).astype(np.float32)
            tex += amp * cv2.resize(coarse, (n, n), interpolation=cv2.INTER_CUBIC)
        for _ in range(int(size_m * size_m / 60.0)):  # one patch per 60 m²
            x, y = rng.integers(0, n, 2)
            s = int(rng.integers(4, 30))
            val = float(rng.uniform(0, 255))
            if rng.random() < 0.5:
                cv2.rectangle(tex, (int(x), int(y)), (int(x) + s, int(y) + int(rng.integers(4, 30))), val, -1)
            else:
                cv2.circle(tex, (int(x), int(y)), s // 2, val, -1)
        blurred = cv2.GaussianBlur(tex, (0, 0), 1.0)
        scaled = (blurred - blurred.min()) / (blurred.max() - blurred.min()) * 220 + 20
        return cls(lon, lat, h, res, np.asarray(scaled, np.float32))


def render_textured(spec: ShotSpec, ground: GroundTexture) -> np.ndarray:
    """RGB photo of the textured ground seen from ``spec`` (look-at camera, pixel-corner origin)."""
    import cv2

    cam = enu_of(
        np.array([spec.lon]),
        np.array([spec.lat]),
        np.array([spec.abs_alt]),
        (ground.lon, ground.lat, ground.h),
    )[0]
    psi, th = math.radians(spec.yaw), math.radians(spec.pitch)
    fwd = np.array([math.sin(psi) * math.cos(th), math.cos(psi) * math.cos(th), math.sin(th)])
    right = np.array([math.cos(psi), -math.sin(psi), 0.0])
    down = np.cross(fwd, right)
    vv, uu = np.mgrid[0 : spec.height, 0 : spec.width].astype(float) + 0.5
    d = (
        fwd[None, None, :]
        + ((uu - spec.width / 2) / spec.focal_px)[..., None] * right
        + ((vv - spec.height / 2) / spec.focal_px)[..., None] * down
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(d[..., 2] < 0, -cam[2] / d[..., 2], np.nan)
    east, north = cam[0] + t * d[..., 0], cam[1] + t * d[..., 1]
    n = ground.pixels.shape[0]
    col = (east / ground.res + n / 2 - 0.5).astype(np.float32)
    row = (n / 2 - north / ground.res - 0.5).astype(np.float32)
    grey = cv2.remap(ground.pixels, col, row, cv2.INTER_LINEAR, borderValue=128.0)
    grey = np.nan_to_num(grey, nan=128.0)
    g = np.clip(grey, 0, 255).astype(np.uint8)
    return np.stack(
        [g, np.clip(grey * 0.9 + 15, 0, 255).astype(np.uint8), np.clip(grey * 0.8, 0, 255).astype(np.uint8)],
        -1,
    )
