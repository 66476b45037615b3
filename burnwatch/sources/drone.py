"""Drone flight input: a folder or a .zip of photos, DJI .SRT telemetry and orthomosaics.

Files are sorted by name pattern: photos (``.jpg``/``.jpeg``, and ``.tif``/``.tiff`` that are
*not* georeferenced — DJI P4 RTK frames are JPEG-in-TIFF), ``.srt`` telemetry, and
orthomosaic GeoTIFFs (a ``.tif`` carrying GeoTIFF tags). Metadata reading lives in
:mod:`burnwatch.sources.drone_meta` and :mod:`burnwatch.sources.drone_srt`.

Zip archives are extracted defensively: any entry with an absolute path, a ``..`` component
or a symlink refuses the whole archive (path traversal), and entry count, total size and
compression ratio are capped (zip bombs).
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from burnwatch.errors import CorruptFileError, InputError, TooLargeError
from burnwatch.sources.drone_meta import PhotoMeta, intrinsics_from_meta, read_photo_meta, sha256_file
from burnwatch.sources.drone_srt import SrtRecord, read_srt

__all__ = [
    "FlightFiles",
    "PhotoMeta",
    "SrtRecord",
    "discover_flight",
    "intrinsics_from_meta",
    "read_photo_meta",
    "read_srt",
    "safe_extract_zip",
    "sha256_file",
]

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".tif", ".tiff"}
MAX_ZIP_ENTRIES = 20_000
MAX_ZIP_BYTES = 16 * 1024**3
MAX_ZIP_RATIO = 200.0

_GEOTIFF_TAGS = (33550, 33922, 34264, 34735)  # pixel scale, tiepoint, transformation, GeoKeys


@dataclass
class FlightFiles:
    """The files of one flight, sorted by role (paths sorted by name)."""

    root: Path
    photos: list[Path] = field(default_factory=list)
    srt: list[Path] = field(default_factory=list)
    orthomosaics: list[Path] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)


def is_geotiff(path: Path) -> bool:
    """True when a TIFF carries GeoTIFF georeferencing tags (an orthomosaic, not a photo)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            tags = getattr(img, "tag_v2", {})
            return any(t in tags for t in _GEOTIFF_TAGS)
    except Exception:  # unreadable files are judged later, as photos
        return False


def safe_extract_zip(
    zip_path: Path,
    dest: Path,
    max_entries: int = MAX_ZIP_ENTRIES,
    max_bytes: int = MAX_ZIP_BYTES,
    max_ratio: float = MAX_ZIP_RATIO,
) -> Path:
    """Extract ``zip_path`` under ``dest`` after checking every entry; return ``dest``.

    Raises :class:`InputError` on path traversal / links, :class:`TooLargeError` on too many
    entries, too many bytes or a suspicious compression ratio, :class:`CorruptFileError` on a
    broken archive. Nothing is written unless every entry passes.
    """
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptFileError(f"not a readable zip archive ({exc})", path=zip_path) from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > max_entries:
            raise TooLargeError(f"zip has {len(infos)} entries, more than {max_entries}", path=zip_path)
        total = 0
        for info in infos:
            name = info.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            if name.startswith("/") or (parts and parts[0].endswith(":")) or ".." in parts:
                raise InputError(
                    f"zip entry {info.filename!r} escapes the archive folder (path traversal); "
                    "archive refused",
                    path=zip_path,
                )
            if stat.S_ISLNK(info.external_attr >> 16):
                raise InputError(
                    f"zip entry {info.filename!r} is a symbolic link; archive refused", path=zip_path
                )
            total += info.file_size
            if (
                info.compress_size
                and info.file_size / info.compress_size > max_ratio
                and info.file_size > 1 << 20
            ):
                raise TooLargeError(
                    f"zip entry {info.filename!r} expands {info.file_size / info.compress_size:.0f}x "
                    "(possible zip bomb)",
                    path=zip_path,
                )
        if total > max_bytes:
            raise TooLargeError(f"zip expands to {total} bytes, more than {max_bytes}", path=zip_path)
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        for info in infos:
            target = (root / info.filename.replace("\\", "/")).resolve()
            if root != target and root not in target.parents:  # belt and braces
                raise InputError(f"zip entry {info.filename!r} escapes the archive folder", path=zip_path)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    written = 0
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > info.file_size:  # lying header
                            raise TooLargeError(
                                f"zip entry {info.filename!r} is larger than declared", path=zip_path
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise CorruptFileError(
                    f"zip entry {info.filename!r} is corrupt ({exc})", path=zip_path
                ) from exc
    return dest


def _flight_files(root: Path, exclude: Sequence[Path]) -> list[Path]:
    """Every file under ``root`` (sorted), leaving out hidden and ``__MACOSX`` folders and files,
    and folders whose resolved path is one of ``exclude`` (symlinked folders are not followed)."""
    excluded = {Path(e).resolve() for e in exclude}
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [
            d
            for d in dirnames
            if not d.startswith(".") and d != "__MACOSX" and (here / d).resolve() not in excluded
        ]
        found.extend(here / f for f in filenames if not f.startswith(".") and (here / f).is_file())
    return sorted(found)


def discover_flight(path: Path, work_dir: Path | None = None, exclude: Sequence[Path] = ()) -> FlightFiles:
    """Sort a flight folder (or a .zip, extracted under ``work_dir``) into roles.

    Files under a folder of ``exclude`` (compared after resolving, e.g. an output folder
    inside the flight folder) are not considered; an excluded folder that *holds* the flight
    excludes nothing.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", path=path)
    if path.is_file():
        if path.suffix.lower() != ".zip":
            raise InputError("a flight is a folder or a .zip of photos", path=path)
        if work_dir is None:
            raise InputError("a work folder is needed to extract the zip", path=path)
        root = safe_extract_zip(path, work_dir / f"zip-{sha256_file(path)[:16]}")
    else:
        root = path
    files = FlightFiles(root=root)
    for p in _flight_files(root, exclude):
        suffix = p.suffix.lower()
        if suffix == ".srt":
            files.srt.append(p)
        elif suffix in (".tif", ".tiff") and is_geotiff(p):
            files.orthomosaics.append(p)
        elif suffix in PHOTO_SUFFIXES:
            files.photos.append(p)
        else:
            files.ignored.append(p)
    return files
