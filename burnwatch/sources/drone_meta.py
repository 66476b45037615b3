"""Drone photo metadata: EXIF (GPS IFD, focal length) and DJI XMP (``drone-dji:`` tags).

Reads JPEG and DJI JPEG-in-TIFF frames (e.g. Phantom 4 RTK ``.tif``). Angles are degrees in
DJI's convention (yaw clockwise from true north, gimbal pitch -90 = nadir); altitudes are
metres (``AbsoluteAltitude`` in the aircraft's GNSS datum — often EGM96 or ellipsoidal,
see docs/drone.md — ``RelativeAltitude`` above the take-off point).

Camera heading: ``GimbalYawDegree`` is used; it is the *camera's* heading in the local
North-East-Down frame on DJI 3-axis gimbals, while ``FlightYawDegree`` is the airframe's.
``FlightYawDegree`` is a fallback only when the gimbal tags are absent.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from burnwatch.errors import CorruptFileError, InputError, TooLargeError
from burnwatch.georef.camera import Intrinsics

#: Refuse images with more pixels than this (decompression-bomb guard; 48 MP drones fit).
DEFAULT_MAX_PIXELS = 120_000_000
#: Refuse photo files larger than this (a 48 MP JPEG is ~25 MB, a DNG ~100 MB).
MAX_FILE_BYTES = 256 * 2**20

#: Sensor sizes (width, height) in mm, by EXIF/XMP model. Sources: DJI product spec sheets
#: (sensor format: 1/2.3" = 6.17x4.55, 1/2" = 6.4x4.8, 1/1.3" = 9.6x7.2, 1" = 13.2x8.8,
#: 4/3 = 17.3x13.0), cross-checked against the widths in OpenDroneMap-style sensor tables
#: found with code search (docs/drone.md lists each).
SENSOR_SIZES_MM: dict[str, tuple[float, float]] = {
    "FC300S": (6.17, 4.55),  # Phantom 3 Advanced, 1/2.3"
    "FC300X": (6.17, 4.55),  # Phantom 3 Professional, 1/2.3"
    "FC300C": (6.17, 4.55),  # Phantom 3 Standard, 1/2.3"
    "FC330": (6.17, 4.55),  # Phantom 4, 1/2.3"
    "FC220": (6.17, 4.55),  # Mavic Pro, 1/2.3"
    "FC2103": (6.17, 4.55),  # Mavic Air, 1/2.3"
    "FC7303": (6.17, 4.55),  # Mini 2, 1/2.3"
    "FC3170": (6.4, 4.8),  # Mavic Air 2, 1/2" 48 MP
    "FC3582": (9.6, 7.2),  # Mini 3 Pro, 1/1.3"
    "FC3411": (13.2, 8.8),  # Air 2S, 1"
    "FC6310": (13.2, 8.8),  # Phantom 4 Pro, 1"
    "FC6310R": (13.2, 8.8),  # Phantom 4 RTK, 1"
    "FC6310S": (13.2, 8.8),  # Phantom 4 Pro V2, 1"
    "L1D-20C": (13.2, 8.8),  # Mavic 2 Pro (Hasselblad), 1"
    "M3E": (17.3, 13.0),  # Mavic 3 Enterprise wide, 4/3
    "M3T": (6.4, 4.8),  # Mavic 3 Thermal wide, 1/2"
    "M30T": (6.4, 4.8),  # Matrice 30T wide, 1/2"
    "M2EA": (6.4, 4.8),  # Mavic 2 Enterprise Advanced visual, 1/2"
    "MAVIC2-ENTERPRISE-ADVANCED": (6.4, 4.8),
}

_XMP_RE = re.compile(rb"<x:xmpmeta.*?</x:xmpmeta>", re.S)
_ATTR_RE = re.compile(r"([A-Za-z][\w-]*):([A-Za-z]\w*)\s*=\s*\"([^\"]*)\"")
_ELEM_RE = re.compile(r"<([A-Za-z][\w-]*):([A-Za-z]\w*)>([^<]*)</\1:\2>")
_GDAL_ITEM_RE = re.compile(r'<Item name="EXIF_(\w+)">([^<]*)</Item>')


@dataclass(frozen=True)
class PhotoMeta:
    """What one drone photo says about itself. Angles degrees, lengths metres unless noted."""

    path: str
    sha256: str
    width: int  # pixels of the stored image
    height: int
    make: str | None = None
    model: str | None = None
    time: datetime | None = None  # EXIF DateTimeOriginal, camera clock (taken as UTC)
    lat: float | None = None  # WGS84 degrees
    lon: float | None = None
    abs_alt: float | None = None
    rel_alt: float | None = None
    gimbal_yaw: float | None = None
    gimbal_pitch: float | None = None
    gimbal_roll: float | None = None
    flight_yaw: float | None = None
    flight_pitch: float | None = None
    flight_roll: float | None = None
    focal_px: float | None = None  # CalibratedFocalLength, pixels of the reference resolution
    centre_x_px: float | None = None  # CalibratedOpticalCenterX/Y
    centre_y_px: float | None = None
    dewarp: tuple[float, ...] | None = None  # fx, fy, cx_off, cy_off, k1, k2, p1, p2, k3
    dewarp_problem: str | None = None  # why a DewarpData tag that is present was not used
    focal_mm: float | None = None
    focal_35mm: float | None = None
    ref_width: int | None = None  # resolution the calibration refers to (EXIF PixelXDimension)
    ref_height: int | None = None
    rtk_std_lon: float | None = None
    rtk_std_lat: float | None = None
    rtk_std_hgt: float | None = None

    label: str | None = None  # the photo's name in the flight when its file name is not unique
    notes: tuple[str, ...] = ()  # what reading the metadata had to skip (corrupt EXIF entries)

    @property
    def name(self) -> str:
        """How reports and layers name the photo: its file name, or its path in the flight
        (``101MEDIA/DJI_0001.JPG``) when another folder of the flight has the same file name."""
        return self.label or Path(self.path).name

    @property
    def has_gps(self) -> bool:
        return self.lat is not None and self.lon is not None and (self.lat, self.lon) != (0.0, 0.0)

    @property
    def camera_yaw(self) -> float | None:
        return self.gimbal_yaw if self.gimbal_yaw is not None else self.flight_yaw


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_xmp(data: bytes) -> dict[str, str]:
    """All ``prefix:Name`` attributes/simple elements of the first XMP packet, keyed by Name."""
    m = _XMP_RE.search(data)
    if not m:
        return {}
    text = m.group(0).decode("utf-8", "replace")
    out: dict[str, str] = {}
    for prefix, name, value in _ATTR_RE.findall(text) + _ELEM_RE.findall(text):
        if prefix in ("xmlns", "x", "rdf"):
            continue
        out.setdefault(name, value.strip())
    return out


def _num(value: object) -> float | None:
    if value is None:
        return None
    try:
        f = float(str(value).strip().strip("()").split()[0])
    except (ValueError, IndexError):
        return None
    return f if math.isfinite(f) else None


def _dms(value: object, ref: object) -> float | None:
    if not isinstance(value, tuple | list) or len(value) != 3:
        return None
    try:
        d, m, s = (float(x) for x in value)
    except (TypeError, ValueError):
        return None
    deg = d + m / 60.0 + s / 3600.0
    return -deg if str(ref).strip("\x00 ").upper() in ("S", "W") else deg


def _clean(value: object) -> str | None:
    if value is None:
        return None
    s = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    s = s.strip("\x00 ").strip()
    return s or None


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def read_photo_meta(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS, verify: bool = True) -> PhotoMeta:
    """Read and validate one photo's metadata.

    Raises :class:`CorruptFileError` (not an image / truncated), :class:`TooLargeError`
    (more than ``max_pixels``: decompression-bomb guard, checked before decoding). With
    ``verify`` the whole image is decoded once to catch truncation.
    """
    import warnings

    from PIL import ExifTags, Image, UnidentifiedImageError

    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise TooLargeError(
                f"file is {size / 2**20:.0f} MiB, more than {MAX_FILE_BYTES / 2**20:.0f} MiB "
                "allowed for one photo",
                path=path,
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror})", path=path) from exc
    try:
        with warnings.catch_warnings(record=True) as opening:  # JPEG reads EXIF (DPI) on open
            warnings.simplefilter("always")
            # Pillow warns above its own 89.5 MP default; ``max_pixels`` is checked just below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise CorruptFileError("not an image (unrecognised format)", path=path) from exc
        raise TooLargeError(
            f"image too large, refused as a possible decompression bomb ({exc})", path=path
        ) from exc
    except OSError as exc:
        raise CorruptFileError(f"not a readable image ({exc})", path=path) from exc
    with img:
        width, height = img.size
        if width * height > max_pixels:
            raise TooLargeError(
                f"image has {width}x{height} pixels, more than the {max_pixels} allowed "
                "(possible decompression bomb)",
                path=path,
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            raw = img.getexif()
            # read every IFD now, while the file is open and warnings are caught (they load lazily)
            exif = dict(raw)
            sub = dict(raw.get_ifd(ExifTags.IFD.Exif))
            gps = dict(raw.get_ifd(ExifTags.IFD.GPSInfo))
        skipped = dict.fromkeys(
            " ".join(str(w.message).split())
            for w in [*opening, *caught]
            if issubclass(w.category, UserWarning)
        )
        notes = (f"EXIF partly unreadable ({'; '.join(skipped)})",) if skipped else ()
        if verify:
            try:
                img.load()
            except (OSError, SyntaxError, ValueError) as exc:
                raise CorruptFileError(f"truncated or corrupt image data ({exc})", path=path) from exc
    xmp = parse_xmp(data)
    gdal: dict[str, str] = {}
    if 42112 in exif:  # GDAL metadata in DJI-derived TIFFs carries the original EXIF
        gdal = dict(_GDAL_ITEM_RE.findall(str(exif[42112])))

    lat = _num(xmp.get("GpsLatitude") or xmp.get("Latitude"))
    lon = _num(xmp.get("GpsLongtitude") or xmp.get("GpsLongitude") or xmp.get("Longitude"))
    if lat is None or lon is None:
        lat, lon = _dms(gps.get(2), gps.get(1)), _dms(gps.get(4), gps.get(3))
    abs_alt = _num(xmp.get("AbsoluteAltitude"))
    if abs_alt is None and gps.get(6) is not None:
        abs_alt = _num(gps.get(6))
        if abs_alt is not None and gps.get(5) in (1, b"\x01"):
            abs_alt = -abs_alt
    if abs_alt is None:
        abs_alt = _num(gdal.get("GPSAltitude"))

    dewarp, dewarp_problem = parse_dewarp(xmp.get("DewarpData"))

    return PhotoMeta(
        path=str(path),
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        make=_clean(exif.get(271)) or xmp.get("Make") or gdal.get("Make"),
        model=_clean(exif.get(272)) or xmp.get("Model") or gdal.get("Model"),
        time=_parse_time(_clean(sub.get(36867)) or _clean(exif.get(306)) or gdal.get("DateTimeOriginal")),
        lat=lat,
        lon=lon,
        abs_alt=abs_alt,
        rel_alt=_num(xmp.get("RelativeAltitude")),
        gimbal_yaw=_num(xmp.get("GimbalYawDegree")),
        gimbal_pitch=_num(xmp.get("GimbalPitchDegree")),
        gimbal_roll=_num(xmp.get("GimbalRollDegree")),
        flight_yaw=_num(xmp.get("FlightYawDegree")),
        flight_pitch=_num(xmp.get("FlightPitchDegree")),
        flight_roll=_num(xmp.get("FlightRollDegree")),
        focal_px=_num(xmp.get("CalibratedFocalLength")),
        centre_x_px=_num(xmp.get("CalibratedOpticalCenterX")),
        centre_y_px=_num(xmp.get("CalibratedOpticalCenterY")),
        dewarp=dewarp,
        dewarp_problem=dewarp_problem,
        notes=notes,
        focal_mm=_num(sub.get(37386)) or _num(gdal.get("FocalLength")),
        focal_35mm=_num(sub.get(41989)) or _num(gdal.get("FocalLengthIn35mmFilm")),
        ref_width=int(_num(sub.get(40962)) or _num(gdal.get("PixelXDimension")) or 0) or None,
        ref_height=int(_num(sub.get(40963)) or _num(gdal.get("PixelYDimension")) or 0) or None,
        rtk_std_lon=_num(xmp.get("RtkStdLon")),
        rtk_std_lat=_num(xmp.get("RtkStdLat")),
        rtk_std_hgt=_num(xmp.get("RtkStdHgt")),
    )


def parse_dewarp(text: str | None) -> tuple[tuple[float, ...] | None, str | None]:
    """DJI ``DewarpData`` (``DATE;fx,fy,cx_off,cy_off,k1,k2,p1,p2,k3``) as 9 numbers.

    Returns ``(values, None)``, ``(None, None)`` when the tag is absent or empty, or
    ``(None, reason)`` when it is present but unusable, so the caller can say why the factory
    calibration was not used instead of silently falling back to a cruder focal length.
    """
    if text is None or not text.strip():
        return None, None
    body = text.split(";", 1)[1] if ";" in text else text
    parts = [p.strip() for p in body.split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        return None, f"DewarpData {text[:60]!r} is not a list of numbers"
    if len(values) != 9:
        return None, f"DewarpData has {len(values)} values, expected 9 (fx,fy,cx,cy,k1,k2,p1,p2,k3)"
    if not all(math.isfinite(v) for v in values) or values[0] <= 0 or values[1] <= 0:
        return None, "DewarpData has a non-positive or non-finite focal length"
    return values, None


def sensor_size_mm(model: str | None) -> tuple[float, float] | None:
    """Sensor (width, height) in mm for a DJI camera model, if known."""
    if not model:
        return None
    return SENSOR_SIZES_MM.get(model.strip().upper())


def intrinsics_from_meta(meta: PhotoMeta) -> tuple[Intrinsics, str]:
    """Camera intrinsics for the stored image size, and a note on where they came from.

    Order of preference: DJI ``DewarpData`` (factory calibration incl. Brown distortion),
    ``CalibratedFocalLength`` + optical centre, EXIF FocalLength (mm) with the sensor table,
    EXIF FocalLengthIn35mmFilm (diagonal equivalence, assuming a 4:3 sensor for 16:9 crops).
    Calibrated values refer to the full sensor resolution (EXIF PixelXDimension, else twice
    the optical centre) and are scaled to the stored image size.
    """
    w, h = meta.width, meta.height
    ref_w = meta.ref_width or (round(2 * meta.centre_x_px) if meta.centre_x_px else None) or w
    ref_h = meta.ref_height or (round(2 * meta.centre_y_px) if meta.centre_y_px else None) or h
    if meta.dewarp is not None:
        fx, fy, cxo, cyo, k1, k2, p1, p2, k3 = meta.dewarp
        full = Intrinsics(ref_w, ref_h, fx, fy, ref_w / 2.0 + cxo, ref_h / 2.0 + cyo, k1, k2, p1, p2, k3)
        return full.scaled(w, h), "DJI DewarpData"
    if meta.focal_px:
        cx = meta.centre_x_px if meta.centre_x_px else ref_w / 2.0
        cy = meta.centre_y_px if meta.centre_y_px else ref_h / 2.0
        return Intrinsics(ref_w, ref_h, meta.focal_px, meta.focal_px, cx, cy).scaled(
            w, h
        ), "CalibratedFocalLength"
    sensor = sensor_size_mm(meta.model)
    if meta.focal_mm and sensor:
        f = meta.focal_mm / sensor[0] * w
        return Intrinsics(w, h, f, f, w / 2.0, h / 2.0), f"FocalLength + sensor table ({meta.model})"
    if meta.focal_35mm:
        diag = math.hypot(w, max(h, 0.75 * w))
        f = meta.focal_35mm * diag / math.hypot(36.0, 24.0)
        return Intrinsics(w, h, f, f, w / 2.0, h / 2.0), "FocalLengthIn35mmFilm"
    raise InputError(
        f"no focal length: no DJI calibration, and camera model {meta.model!r} is not in "
        "the sensor table and EXIF has no 35 mm equivalent",
        path=meta.path,
    )
