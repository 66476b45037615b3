"""Evidence files: content-addressed storage and EXIF GPS.

Files are stored once under ``<data_dir>/evidence/<sha[:2]>/<sha256><ext>`` (the same
photo uploaded twice is stored once). GPS is read from the EXIF GPS IFD with Pillow
(degrees/minutes/seconds rationals + N/S/E/W refs -> signed decimal degrees, WGS84).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from burnwatch.errors import CorruptFileError, InputError, TooLargeError

if TYPE_CHECKING:
    from PIL import Image

GPS_IFD = 0x8825
EXIF_IFD = 0x8769


@dataclass(frozen=True)
class PhotoGPS:
    lon: float
    lat: float
    taken_at: datetime | None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _dms(value: object) -> float:
    d, m, s = (float(v) for v in value)  # type: ignore[attr-defined]
    return d + m / 60.0 + s / 3600.0


def read_gps(path: Path) -> PhotoGPS | None:
    """EXIF GPS position (WGS84) and capture time of an image; None when it has none.

    Raises CorruptFileError when the file is not an image Pillow can open, claims more
    pixels than Pillow opens safely (a decompression bomb), or has malformed EXIF GPS."""
    exif = _exif(path)
    gps = exif.get_ifd(GPS_IFD)
    if not gps or 2 not in gps or 4 not in gps:
        return None
    try:
        lat = _dms(gps[2]) * (-1.0 if str(gps.get(1, "N")).upper().startswith("S") else 1.0)
        lon = _dms(gps[4]) * (-1.0 if str(gps.get(3, "E")).upper().startswith("W") else 1.0)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise CorruptFileError(f"malformed EXIF GPS: {exc}", path=path) from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CorruptFileError(f"EXIF GPS out of range: lat={lat} lon={lon}", path=path)
    taken = None
    raw = exif.get_ifd(EXIF_IFD).get(36867) or exif.get(306)
    if raw:
        # EXIF has no time zone; GPSDateStamp/GPSTimeStamp are UTC when present.
        if 29 in gps and 7 in gps:
            taken = _gps_time(gps, path)
        else:
            try:
                taken = datetime.strptime(str(raw), "%Y:%m:%d %H:%M:%S").replace(tzinfo=timezone.utc)
            except ValueError:
                taken = None
    return PhotoGPS(lon=lon, lat=lat, taken_at=taken)


def _exif(path: Path) -> Image.Exif:
    """The image's EXIF (CorruptFileError when Pillow cannot open it safely)."""
    import struct

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            exif = img.getexif()
            for ifd in (GPS_IFD, EXIF_IFD):
                exif.get_ifd(ifd)  # parsed (and cached) here, inside the error handling
    except Image.DecompressionBombError as exc:
        raise CorruptFileError(f"image too large to open safely: {exc}", path=path) from exc
    except UnidentifiedImageError as exc:
        raise CorruptFileError("not a readable image (an unknown format, or truncated)", path=path) from exc
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise CorruptFileError(f"not a readable image: {exc}", path=path) from exc
    return exif


def _gps_time(gps: Mapping[int, Any], path: Path) -> datetime:
    """GPSDateStamp + GPSTimeStamp (three rationals: hour, minute, second) as aware UTC."""
    try:
        h, m, s = (float(v) for v in gps[7])
        day = datetime.strptime(str(gps[29]), "%Y:%m:%d")
        return day.replace(hour=int(h), minute=int(m), second=int(s), tzinfo=timezone.utc)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise CorruptFileError(
            f"malformed EXIF GPS time (GPSDateStamp {gps[29]!r}, GPSTimeStamp {gps[7]!r}): {exc}", path=path
        ) from exc


def store_file(path: Path, data_dir: Path, max_bytes: int | None = None) -> tuple[str, Path, int]:
    """Copy ``path`` into the content-addressed store; return (sha256, path relative to
    ``data_dir``, size in bytes)."""
    if not path.is_file():
        raise InputError("evidence file not found", path=path)
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise TooLargeError(f"evidence file is {size} bytes, limit {max_bytes}", path=path)
    sha = sha256_file(path)
    rel = Path("evidence") / sha[:2] / f"{sha}{path.suffix.lower()}"
    target = data_dir / rel
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        shutil.copyfile(path, tmp)
        tmp.replace(target)
    return sha, rel, size
