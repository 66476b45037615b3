"""Flight input: discovering a flight folder and extracting a flight .zip defensively."""

from __future__ import annotations

import random
import shutil
import struct
import warnings
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from burnwatch.errors import CorruptFileError, InputError, TooLargeError
from burnwatch.sources.drone import discover_flight, safe_extract_zip


def test_discover_flight_skips_excluded_folders(tmp_path: Path) -> None:
    flight = tmp_path / "flight"
    (flight / "out" / "thumbnails").mkdir(parents=True)
    (flight / "sub").mkdir()
    for rel in ("DJI_0001.JPG", "sub/DJI_0002.JPG", "out/thumbnails/DJI_0001_abc.jpg", "out/report.json"):
        (flight / rel).write_bytes(b"x")
    files = discover_flight(flight, exclude=[flight / "sub" / ".." / "out"])  # resolved before comparing
    assert [p.name for p in files.photos] == ["DJI_0001.JPG", "DJI_0002.JPG"] and files.ignored == []
    # an excluded folder that holds the flight (e.g. --out .) excludes nothing inside it
    assert len(discover_flight(flight, exclude=[tmp_path]).photos) == 3
    assert len(discover_flight(flight).photos) == 3


def _zip(path: Path, entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _patch_first_entry(path: Path, local_off: int, central_off: int, value: bytes, *, set_bits: bool) -> None:
    """Patch a field of the first entry in both its local and its central header."""
    raw = bytearray(path.read_bytes())
    for sig, off in ((b"PK\x03\x04", local_off), (b"PK\x01\x02", central_off)):
        i = raw.find(sig) + off
        if set_bits:
            raw[i] |= value[0]
        else:
            raw[i : i + len(value)] = value
    path.write_bytes(bytes(raw))


def _left_over(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


_PHOTO = random.Random(1).randbytes(200_000)  # incompressible, like a JPEG


def test_file_and_folder_with_the_same_name_is_refused_cleanly(tmp_path: Path) -> None:
    z = _zip(tmp_path / "clash.zip", {"a.jpg": _PHOTO, "x": _PHOTO, "x/b.jpg": _PHOTO})
    with pytest.raises(CorruptFileError, match=r"'x' is both a file and a folder") as err:
        safe_extract_zip(z, tmp_path / "w" / "d")
    assert err.value.path == str(z)
    assert _left_over(tmp_path / "w") == []


def test_duplicate_entry_names_are_refused(tmp_path: Path) -> None:
    z = tmp_path / "dup.zip"
    with warnings.catch_warnings(), zipfile.ZipFile(z, "w") as zf:
        warnings.simplefilter("ignore")
        zf.writestr("a.tif", _PHOTO)
        zf.writestr("a.tif", _PHOTO[::-1])
    with pytest.raises(CorruptFileError, match=r"'a.tif' appears twice"):
        safe_extract_zip(z, tmp_path / "w" / "d")
    z2 = _zip(tmp_path / "dup2.zip", {"f/a.jpg": _PHOTO, "f\\a.jpg": _PHOTO, "g/./b.jpg": b""})
    with pytest.raises(CorruptFileError, match=r"appears twice"):
        safe_extract_zip(z2, tmp_path / "w" / "d")
    assert _left_over(tmp_path / "w") == []


def test_encrypted_and_unsupported_compression_name_the_entry(tmp_path: Path) -> None:
    enc = _zip(tmp_path / "enc.zip", {"DJI_0001.JPG": _PHOTO})
    _patch_first_entry(enc, 6, 8, b"\x01", set_bits=True)
    with pytest.raises(InputError, match=r"'DJI_0001.JPG' is encrypted") as err:
        safe_extract_zip(enc, tmp_path / "w" / "d")
    assert err.value.path == str(enc)
    d64 = _zip(tmp_path / "d64.zip", {"DJI_0001.JPG": _PHOTO})
    _patch_first_entry(d64, 8, 10, struct.pack("<H", 9), set_bits=False)
    with pytest.raises(InputError, match=r"'DJI_0001.JPG' uses compression method 9 \(Deflate64\)"):
        safe_extract_zip(d64, tmp_path / "w" / "d")
    assert _left_over(tmp_path / "w") == []


def test_corrupt_entry_leaves_nothing_half_extracted(tmp_path: Path) -> None:
    z = _zip(tmp_path / "bad.zip", {"a.jpg": _PHOTO, "b.srt": b"1\n00:00:00,000 --> 00:00:01,000\n" * 2000})
    raw = bytearray(z.read_bytes())
    i = raw.rfind(b"PK\x03\x04") + 30 + len("b.srt") + 10  # inside b.srt's deflate stream
    raw[i : i + 40] = bytes(40)
    z.write_bytes(bytes(raw))
    dest = tmp_path / "w" / "d"
    dest.mkdir(parents=True)
    (dest / "old.jpg").write_bytes(b"from an earlier extraction")
    with pytest.raises(CorruptFileError, match=r"zip entry 'b.srt' is corrupt") as err:
        safe_extract_zip(z, dest)
    assert err.value.path == str(z)
    assert _left_over(tmp_path / "w") == ["d"] and _left_over(dest) == ["old.jpg"]  # untouched


def test_re_extraction_replaces_the_folder_whole(tmp_path: Path) -> None:
    z = _zip(tmp_path / "ok.zip", {"f/a.jpg": _PHOTO, "f/a.SRT": b"telemetry"})
    dest = tmp_path / "w" / "d"
    dest.mkdir(parents=True)
    (dest / "stale.jpg").write_bytes(b"x")
    assert safe_extract_zip(z, dest) == dest
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == ["f", "f/a.SRT", "f/a.jpg"]
    assert (dest / "f" / "a.jpg").read_bytes() == _PHOTO and _left_over(tmp_path / "w") == ["d"]


def test_many_small_zero_entries_are_a_zip_bomb(tmp_path: Path) -> None:
    z = _zip(tmp_path / "small.zip", {"a.jpg": _PHOTO} | {f"z{i}.jpg": bytes(1 << 20) for i in range(40)})
    with pytest.raises(TooLargeError, match=r"'z0.jpg' expands \d+x \(possible zip bomb\)"):
        safe_extract_zip(z, tmp_path / "w" / "d")
    # entries under the per-entry threshold are caught by the whole-archive ratio
    tiny = {f"z{i}.jpg": bytes(8 << 10) for i in range(400)}
    z = _zip(tmp_path / "tiny.zip", tiny)
    with pytest.raises(TooLargeError, match=r"expands \d+x its own size in total .*possible zip bomb"):
        safe_extract_zip(z, tmp_path / "w" / "d", max_archive_ratio=20)
    assert _left_over(tmp_path / "w") == []


def test_expansion_must_leave_the_reserve_free(tmp_path: Path) -> None:
    z = _zip(tmp_path / "ok.zip", {"a.jpg": _PHOTO})
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(TooLargeError, match=r"free on the destination") as err:
        safe_extract_zip(z, tmp_path / "w" / "d", min_free_bytes=free)
    assert err.value.path == str(z) and _left_over(tmp_path / "w") == []


def test_legitimate_flight_zip_passes_the_ratio_checks(tmp_path: Path) -> None:
    srt = "".join(
        f"{i}\n00:00:{i:02d},000 --> 00:00:{i + 1:02d},000\n2026-03-01 09:30:{i:02d}.000\n"
        f"[latitude: 21.03{i:02d}] [longitude: 105.85{i:02d}] [rel_alt: 100.0 abs_alt: 120.0]\n\n"
        for i in range(50)
    ).encode() * 20  # ~170 kB of SRT text: deflates ~10-20x
    rng = random.Random(2)
    entries = {f"DJI_{i:04d}.JPG": rng.randbytes(300_000) for i in range(5)} | {"DJI_0001.SRT": srt}
    dest = safe_extract_zip(_zip(tmp_path / "flight.zip", entries), tmp_path / "w" / "d")
    assert sorted(p.name for p in dest.iterdir()) == sorted(entries)


def test_entry_time_becomes_the_file_mtime(tmp_path: Path) -> None:
    z = tmp_path / "t.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(zipfile.ZipInfo("DJI_0001.JPG", date_time=(2026, 3, 1, 9, 30, 42)), _PHOTO)
        zf.writestr(zipfile.ZipInfo("odd.jpg", date_time=(1980, 0, 0, 0, 0, 0)), _PHOTO[:10])
    dest = safe_extract_zip(z, tmp_path / "w" / "d")
    # a zip stores the zipping computer's wall clock without a zone: it is read as UTC
    expected = datetime(2026, 3, 1, 9, 30, 42, tzinfo=timezone.utc).timestamp()
    assert (dest / "DJI_0001.JPG").stat().st_mtime == expected
    assert (dest / "odd.jpg").stat().st_mtime == datetime(1980, 1, 1, tzinfo=timezone.utc).timestamp()
    safe_extract_zip(z, dest)  # re-ingest: same time again
    assert (dest / "DJI_0001.JPG").stat().st_mtime == expected


def test_flight_zip_photo_without_exif_time_gets_the_same_time_twice(tmp_path: Path) -> None:
    from drone_synth import ShotSpec, write_photo

    photo = write_photo(tmp_path / "DJI_0001.JPG", ShotSpec(105.85, 21.03, 120.0, 100.0, 0.0, -90.0, time=None))
    z = tmp_path / "flight.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(zipfile.ZipInfo("DJI_0001.JPG", date_time=(2026, 3, 1, 9, 30, 42)), photo.read_bytes())
    first = discover_flight(z, tmp_path / "work1").photos[0].stat().st_mtime
    assert discover_flight(z, tmp_path / "work2").photos[0].stat().st_mtime == first
