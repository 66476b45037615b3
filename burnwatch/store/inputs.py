"""Read what ``burnwatch ingest`` is given into hotspots plus provenance.

Accepted inputs (``kind="auto"`` guesses from the path):

* a FIRMS CSV export (``.csv``/``.txt``, MODIS or VIIRS layout) or a CSPP VIIRS active-fire
  text file (``AFIMG_*.txt``, told apart by its ``#`` comment header) -> kind ``firms``; detections
  of FIRMS ``type`` 1-3 (volcano, static land source, offshore) are left out and counted in the
  record's ``parameters["left_out_static_sources"]``;
* a hotspot file written by :func:`burnwatch.publish.vector.write_hotspots`
  (``.geojson``/``.gpkg``) -> ``flight`` when its hotspots come from a drone, else ``scan``;
* a scan output directory (``hotspots.geojson``/``.gpkg`` + the run's ``manifest.json``:
  parameters, package/algorithm versions, input sha256s) or a drone-flight output directory
  (``hotspots.geojson`` + ``report.json``: flight id, per-photo sha256s).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from burnwatch import __version__
from burnwatch.errors import InputError
from burnwatch.incidents.evidence import sha256_file
from burnwatch.store.ingest import ScanRecord
from burnwatch.types import Hotspot, utc

log = logging.getLogger(__name__)

KINDS = ("auto", "scan", "firms", "flight")
HOTSPOT_FILES = ("hotspots.geojson", "hotspots.gpkg")
MANIFESTS = ("manifest.json", "report.json")  # scan run manifest; drone flight report


def _manifest(folder: Path) -> dict[str, Any]:
    for name in MANIFESTS:
        path = folder / name
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InputError(f"manifest is not valid JSON: {exc}", path=path) from exc
            if isinstance(data, dict):
                return data
    return {}


def _hashes(value: Any) -> dict[str, str]:
    """Input hashes from a manifest: {name: sha} or [{"path"/"name": .., "sha256": ..}]."""
    if isinstance(value, dict):
        return {str(k): str(v.get("sha256", v) if isinstance(v, dict) else v) for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, str] = {}
        for item in value:
            if isinstance(item, dict) and "sha256" in item:
                out[str(item.get("path") or item.get("name") or len(out))] = str(item["sha256"])
        return out
    return {}


def _guess_kind(hotspots: list[Hotspot]) -> str:
    sources = {h.source for h in hotspots}
    if sources == {"firms"}:
        return "firms"
    if sources and sources <= {"drone"}:
        return "flight"
    return "scan"


def _drop_static(hotspots: list[Hotspot], path: Path) -> tuple[list[Hotspot], dict[str, int]]:
    """Hotspots without the FIRMS ``type`` 1-3 (volcano, static land source, offshore) that are
    not open burning, and how many of each were left out (as ``burnwatch scan`` suppresses them)."""
    from burnwatch.pipeline import firms_type_counts, split_source_flagged

    kept, static = split_source_flagged(hotspots)
    counts = firms_type_counts(static)
    if static:
        log.warning(
            "%s: %d FIRMS detection(s) that are not open burning left out (%s)",
            path, len(static), ", ".join(f"{n} {label}" for label, n in counts.items()),
        )  # fmt: skip
    return kept, counts


def read_input(path: str | Path, kind: str = "auto") -> tuple[list[Hotspot], ScanRecord]:
    """Hotspots and provenance from one input path; InputError naming the path otherwise."""
    path = Path(path)
    if kind not in KINDS:
        raise InputError(f"unknown input kind {kind!r} (use {', '.join(KINDS)})", path=path)
    if not path.exists():
        raise InputError("no such file or directory", path=path)
    manifest: dict[str, Any] = {}
    if path.is_dir():
        files = [path / n for n in HOTSPOT_FILES if (path / n).is_file()]
        if not files:
            raise InputError(f"no {' or '.join(HOTSPOT_FILES)} in this folder", path=path)
        data_file = files[0]
        manifest = _manifest(path)
    else:
        data_file = path
    suffix = data_file.suffix.lower()
    if kind == "firms" or (kind == "auto" and suffix in (".csv", ".txt")):
        from burnwatch.sources.firms import read_hotspot_file

        errors: list[InputError] = []
        hotspots = read_hotspot_file(data_file, errors=errors)  # FIRMS CSV or CSPP AFIMG text
        if errors:
            log.warning("%s: %d malformed rows skipped", data_file, len(errors))
        if not hotspots and errors:
            raise InputError(f"no usable FIRMS rows ({errors[0]})", path=data_file)
        hotspots, static = _drop_static(hotspots, data_file)
        if static:
            manifest = {"parameters": {"left_out_static_sources": static}}
        kind = "firms"
    elif suffix in (".geojson", ".json", ".gpkg"):
        from burnwatch.publish.vector import read_hotspots

        hotspots = read_hotspots(data_file)
        if kind == "auto":
            kind = "flight" if "flight_id" in manifest else str(manifest.get("kind") or _guess_kind(hotspots))
    else:
        raise InputError("not a FIRMS CSV, hotspot GeoJSON/GeoPackage or scan/flight folder", path=path)
    sources = sorted({h.source for h in hotspots})
    hashes = {data_file.name: sha256_file(data_file)}
    hashes.update(_hashes(manifest.get("inputs") or manifest.get("input_hashes")))
    # a flight report lists its photos with their sha256 under "files"
    hashes.update(_hashes(manifest.get("files")))
    versions = {"burnwatch": str(manifest.get("burnwatch_version") or __version__)}
    for key in ("software_versions", "packages", "algorithms"):
        mv = manifest.get(key)
        if isinstance(mv, dict):
            versions.update({str(k): str(v) for k, v in mv.items()})
    params = manifest.get("parameters") or {
        k: manifest[k] for k in ("flight_id", "crs", "ground", "detector") if k in manifest
    }
    started = manifest.get("started_utc") or manifest.get("created")
    record = ScanRecord(
        kind=kind,
        source=",".join(sources) or kind,
        label=str(path),
        parameters=params if isinstance(params, dict) else {"value": params},
        software_versions=versions,
        input_hashes=hashes,
        started_at=_parse_time(started),
    )
    return hotspots, record


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None
