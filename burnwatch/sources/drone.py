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

import calendar
import os
import shutil
import stat
import tempfile
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from burnwatch.errors import BurnwatchError, CorruptFileError, InputError, TooLargeError
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
MAX_ZIP_RATIO = 200.0  # per entry, for entries over ZIP_RATIO_MIN_BYTES
ZIP_RATIO_MIN_BYTES = 64 * 1024
MAX_ZIP_ARCHIVE_RATIO = 100.0  # declared total size / archive size (docs/drone.md: why 100)
ZIP_MIN_FREE_BYTES = 1024**3  # left free on the destination's filesystem after extraction
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_ZIP_METHOD_NAMES = {9: "Deflate64", 10: "PKWARE Implode", 93: "Zstandard", 95: "xz", 98: "PPMd", 99: "AES"}

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
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a corrupt tag is reported when the file is read
            with Image.open(path) as img:
                tags = getattr(img, "tag_v2", {})
                return any(t in tags for t in _GEOTIFF_TAGS)
    except Exception:  # unreadable files are judged later, as photos
        return False


@dataclass(frozen=True)
class _Entry:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]  # the normalised path inside the archive

    @property
    def name(self) -> str:
        return self.info.filename


def _entry_parts(info: zipfile.ZipInfo, zip_path: Path) -> tuple[str, ...]:
    """The entry's normalised relative path; refuses traversal, links and unreadable entries."""
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or (parts and parts[0].endswith(":")) or ".." in parts:
        raise InputError(
            f"zip entry {info.filename!r} escapes the archive folder (path traversal); archive refused",
            path=zip_path,
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InputError(f"zip entry {info.filename!r} is a symbolic link; archive refused", path=zip_path)
    if info.flag_bits & 0x1:
        raise InputError(
            f"zip entry {info.filename!r} is encrypted (password-protected); archive refused", path=zip_path
        )
    if info.compress_type not in _ZIP_METHODS:
        method = _ZIP_METHOD_NAMES.get(info.compress_type, "unknown")
        raise InputError(
            f"zip entry {info.filename!r} uses compression method {info.compress_type} ({method}), which "
            "cannot be read; re-create the archive with standard Deflate compression",
            path=zip_path,
        )
    if not parts and not info.is_dir():
        raise CorruptFileError(f"zip entry {info.filename!r} has no file name", path=zip_path)
    return parts


def _check_layout(entries: list[_Entry], zip_path: Path) -> None:
    """Refuse two files with one path, and a path that is both a file and a folder."""
    files: set[tuple[str, ...]] = set()
    folders: set[tuple[str, ...]] = set()
    for e in entries:
        folders.update(e.parts[:i] for i in range(1, len(e.parts)))
        if e.info.is_dir():
            folders.add(e.parts)
        elif e.parts in files:
            raise CorruptFileError(
                f"zip entry {e.name!r} appears twice in the archive (one would silently replace the "
                "other); archive refused",
                path=zip_path,
            )
        else:
            files.add(e.parts)
    for e in entries:
        if not e.info.is_dir() and e.parts in folders:
            raise CorruptFileError(
                f"zip entry {'/'.join(e.parts)!r} is both a file and a folder in the archive; "
                "archive refused",
                path=zip_path,
            )


def _check_sizes(
    entries: list[_Entry], zip_path: Path, max_bytes: int, max_ratio: float, max_archive_ratio: float
) -> int:
    """Per-entry and whole-archive expansion checks; returns the declared total size."""
    total = 0
    for e in entries:
        size, packed = e.info.file_size, max(e.info.compress_size, 1)
        total += size
        if size > ZIP_RATIO_MIN_BYTES and size / packed > max_ratio:
            raise TooLargeError(
                f"zip entry {e.name!r} expands {size / packed:.0f}x (possible zip bomb)", path=zip_path
            )
    if total > max_bytes:
        raise TooLargeError(f"zip expands to {total} bytes, more than {max_bytes}", path=zip_path)
    archive = max(zip_path.stat().st_size, 1)
    if total > ZIP_RATIO_MIN_BYTES and total / archive > max_archive_ratio:
        raise TooLargeError(
            f"zip expands {total / archive:.0f}x its own size in total ({total} bytes from {archive}), "
            f"more than {max_archive_ratio:.0f}x (possible zip bomb)",
            path=zip_path,
        )
    return total


def _check_free_space(total: int, folder: Path, min_free_bytes: int, zip_path: Path) -> None:
    free = shutil.disk_usage(folder).free
    if free - total < min_free_bytes:
        raise TooLargeError(
            f"zip expands to {total / 1e9:.2f} GB but only {free / 1e9:.2f} GB are free on the "
            f"destination's filesystem ({folder}), and {min_free_bytes / 1e9:.2f} GB must stay free",
            path=zip_path,
        )


def _entry_mtime(info: zipfile.ZipInfo) -> float:
    """The entry's time as a POSIX timestamp. A zip stores the zipping computer's wall clock with
    no zone: it is read as UTC, so every server gives a file the same time; an impossible date
    (some writers store month 0) is the zip epoch, 1980-01-01."""
    try:
        return calendar.timegm(datetime(*info.date_time).timetuple())
    except ValueError:
        return float(calendar.timegm((1980, 1, 1, 0, 0, 0)))


def _copy_entry(zf: zipfile.ZipFile, entry: _Entry, out: BinaryIO, zip_path: Path) -> None:
    try:
        with zf.open(entry.info) as src:
            written = 0
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > entry.info.file_size:  # lying header
                    raise TooLargeError(f"zip entry {entry.name!r} is larger than declared", path=zip_path)
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise BurnwatchError(
                        f"cannot write zip entry {entry.name!r} ({exc.strerror})", path=zip_path
                    ) from exc
    except BurnwatchError:
        raise
    except (RuntimeError, NotImplementedError) as exc:  # encryption / method not caught up front
        raise InputError(f"zip entry {entry.name!r} cannot be read ({exc})", path=zip_path) from exc
    except Exception as exc:  # BadZipFile (CRC), EOFError, zlib/lzma/bz2 errors: damaged data
        raise CorruptFileError(f"zip entry {entry.name!r} is corrupt ({exc})", path=zip_path) from exc


def _extract_entry(zf: zipfile.ZipFile, entry: _Entry, root: Path, zip_path: Path) -> None:
    target = root.joinpath(*entry.parts)
    if root != target.resolve() and root not in target.resolve().parents:  # belt and braces
        raise InputError(f"zip entry {entry.name!r} escapes the archive folder", path=zip_path)
    try:
        if entry.info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as out:  # "x": never overwrite
            _copy_entry(zf, entry, out, zip_path)  # raises only BurnwatchError
    except OSError as exc:
        raise CorruptFileError(
            f"zip entry {entry.name!r} cannot be extracted ({exc.strerror})", path=zip_path
        ) from exc
    mtime = _entry_mtime(entry.info)
    os.utime(target, (mtime, mtime))


def _replace_dir(new: Path, dest: Path) -> None:
    """Put the finished folder ``new`` at ``dest``, replacing what was there."""
    old = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:8]}")
    if dest.exists() or dest.is_symlink():
        dest.rename(old)
    new.rename(dest)
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    elif old.exists() or old.is_symlink():
        old.unlink()


def _checked_entries(
    zf: zipfile.ZipFile,
    zip_path: Path,
    max_entries: int,
    max_bytes: int,
    max_ratio: float,
    max_archive_ratio: float,
) -> tuple[list[_Entry], int]:
    """Every entry checked (names, layout, sizes) before anything is written; and the total size."""
    infos = zf.infolist()
    if len(infos) > max_entries:
        raise TooLargeError(f"zip has {len(infos)} entries, more than {max_entries}", path=zip_path)
    entries = [_Entry(info, _entry_parts(info, zip_path)) for info in infos]
    entries = [e for e in entries if e.parts]  # "./" folder entries
    _check_layout(entries, zip_path)
    return entries, _check_sizes(entries, zip_path, max_bytes, max_ratio, max_archive_ratio)


def safe_extract_zip(
    zip_path: Path,
    dest: Path,
    max_entries: int = MAX_ZIP_ENTRIES,
    max_bytes: int = MAX_ZIP_BYTES,
    max_ratio: float = MAX_ZIP_RATIO,
    max_archive_ratio: float = MAX_ZIP_ARCHIVE_RATIO,
    min_free_bytes: int = ZIP_MIN_FREE_BYTES,
) -> Path:
    """Extract ``zip_path`` to the folder ``dest`` after checking every entry; return ``dest``.

    Raises :class:`InputError` on path traversal / links / encrypted entries / unreadable
    compression methods, :class:`TooLargeError` on too many entries, too many bytes, a
    suspicious compression ratio (per entry or for the whole archive) or too little free disk,
    :class:`CorruptFileError` on a broken archive, duplicate entry names or a path that is both
    a file and a folder. Every message names the archive (``path``) and the entry.

    The archive is extracted into a temporary sibling folder that replaces ``dest`` only when
    every entry was written; on any failure it is removed and ``dest`` is left as it was.
    Each file's modification time is its entry's time (:func:`_entry_mtime`).
    """
    zip_path = Path(zip_path)
    try:
        zf = zipfile.ZipFile(zip_path)
    except Exception as exc:  # BadZipFile, OSError, bad UTF-8 names, unsupported layouts
        raise CorruptFileError(f"not a readable zip archive ({exc})", path=zip_path) from exc
    with zf:
        entries, total = _checked_entries(zf, zip_path, max_entries, max_bytes, max_ratio, max_archive_ratio)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            _check_free_space(total, dest.parent, min_free_bytes, zip_path)
            tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.part-", dir=dest.parent))
        except OSError as exc:
            raise BurnwatchError(f"cannot create the extraction folder ({exc})", path=dest.parent) from exc
        try:
            root = tmp.resolve()
            for entry in entries:
                _extract_entry(zf, entry, root, zip_path)
            _replace_dir(tmp, dest)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise BurnwatchError(f"cannot extract into {dest} ({exc})", path=zip_path) from exc
            raise
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
