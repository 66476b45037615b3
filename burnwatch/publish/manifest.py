"""Run manifests: what a run read, how it was configured, what software made it, what it wrote.

A manifest is a JSON file written next to a run's outputs so a result can be reproduced and
audited: burnwatch version, Python and platform, versions of the key libraries (read with
``importlib.metadata``, nothing heavy imported; GDAL from rasterio), UTC start/end times,
parameters, algorithm versions, and the SHA-256 of every input file (or of the request, for
remote inputs) and output file. Secrets (the settings' secret values and any ``redact`` strings)
are replaced by ``***`` everywhere in the manifest before it is written or hashed.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Literal

from burnwatch import __version__
from burnwatch.errors import BurnwatchError, CorruptFileError, InputError

SCHEMA = "burnwatch.run-manifest/1"

#: Distributions whose versions every manifest records (when installed).
KEY_PACKAGES: tuple[str, ...] = (
    "numpy", "rasterio", "rio-cogeo", "shapely", "pyproj", "geopandas", "pyogrio", "sentinelhub",
    "folium", "scipy", "onnxruntime", "torch", "ultralytics", "opencv-python-headless", "sqlalchemy",
)

InputRef = Path | str | Mapping[str, Any]


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "get_secret_value"):  # pydantic SecretStr: never write the secret
        return "***"
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if hasattr(value, "wkt"):  # shapely geometries
        return value.wkt
    return str(value)


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces) used for request hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def request_hash(request: str | Mapping[str, Any]) -> str:
    """Hex SHA-256 identifying a remote request (URL string or parameter mapping)."""
    text = request if isinstance(request, str) else canonical_json(request)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def package_versions(names: Iterable[str] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (missing ones left out), plus GDAL's when rasterio is there."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    if "rasterio" in out:
        try:
            import rasterio

            out["GDAL"] = str(rasterio.__gdal_version__)
        except ImportError:  # pragma: no cover - metadata without a working install
            pass
    return out


def _settings_secrets() -> list[str]:
    try:
        from burnwatch.config import load_settings

        settings = load_settings()
    except BurnwatchError:
        return []
    secrets = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value") and value.get_secret_value():
            secrets.append(str(value.get_secret_value()))
    return secrets


@dataclass(frozen=True)
class FileRecord:
    """One input or output: ``path`` (relative to the manifest when below it), its size in
    bytes and SHA-256; remote inputs have ``request`` and ``sha256`` of the request instead."""

    kind: str  # "file" | "remote" | "missing" / "unreadable" (write_manifest(missing_inputs="record"))
    path: str | None = None
    bytes: int | None = None
    sha256: str | None = None
    request: Any = None


@dataclass
class RunManifest:
    """Everything needed to say how a run's outputs came about."""

    started_utc: str
    finished_utc: str
    parameters: dict[str, Any]
    algorithms: dict[str, str]
    inputs: list[FileRecord]
    outputs: list[FileRecord]
    burnwatch_version: str = __version__
    python: str = field(default_factory=lambda: sys.version.split()[0])
    platform: str = field(default_factory=platform.platform)
    packages: dict[str, str] = field(default_factory=package_versions)
    command: list[str] | None = None
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["inputs"] = [{k: v for k, v in r.items() if v is not None} for r in data["inputs"]]
        data["outputs"] = [{k: v for k, v in r.items() if v is not None} for r in data["outputs"]]
        return data

    def to_json(self, secrets: Sequence[str] = ()) -> str:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=False, default=_json_default,
                          ensure_ascii=False)
        for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
            text = text.replace(json.dumps(secret)[1:-1], "***")
        return text + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunManifest:
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in fields}
        kwargs["inputs"] = [FileRecord(**r) for r in data.get("inputs", [])]
        kwargs["outputs"] = [FileRecord(**r) for r in data.get("outputs", [])]
        return cls(**kwargs)


def _expand(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return [path]


def _rel(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def _file_record(path: Path, base: Path) -> FileRecord:
    return FileRecord("file", _rel(path, base), path.stat().st_size, sha256_file(path))


def _redact(value: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            value = value.replace(secret, "***")
    return value


def _input_records(
    inputs: Sequence[InputRef],
    base: Path,
    secrets: Sequence[str],
    missing: Literal["raise", "record"] = "raise",
) -> list[FileRecord]:
    records: list[FileRecord] = []
    for ref in inputs:
        if isinstance(ref, Mapping):
            clean = json.loads(_redact(canonical_json(ref), secrets))
            records.append(FileRecord("remote", request=clean, sha256=request_hash(clean)))
            continue
        path = Path(ref)
        if isinstance(ref, Path) or path.exists():
            if not path.exists():
                if missing == "raise":
                    raise InputError("input file does not exist", path=path)
                records.append(FileRecord("missing", _rel(path, base)))
                continue
            for p in _expand(path):
                try:
                    records.append(_file_record(p, base))
                except OSError:
                    if missing == "raise":
                        raise
                    records.append(FileRecord("unreadable", _rel(p, base)))
        else:  # a URL or request description
            clean_text = _redact(str(ref), secrets)
            records.append(FileRecord("remote", request=clean_text, sha256=request_hash(clean_text)))
    return records


def write_manifest(
    path: Path,
    inputs: Sequence[InputRef],
    outputs: Sequence[Path],
    parameters: Mapping[str, Any],
    algorithms: Mapping[str, str],
    *,
    started: datetime | None = None,
    finished: datetime | None = None,
    command: Sequence[str] | None = None,
    redact: Sequence[str] = (),
    missing_inputs: Literal["raise", "record"] = "raise",
) -> Path:
    """Write the run manifest JSON to ``path`` and return it.

    ``inputs``: local files or folders (hashed), or remote inputs as a URL/description string
    or a request mapping (hashed canonically). A ``Path`` that does not exist is an error; a
    ``str`` that is not an existing path is taken as remote. ``outputs``: files or folders
    (every file below is hashed); each must exist. ``started``/``finished`` are the run's UTC
    times (``finished`` defaults to now, ``started`` to ``finished``). ``redact`` lists extra
    secret strings to mask; the settings' secrets are always masked. ``missing_inputs="record"``
    lists an input path that does not exist (or cannot be read) as ``kind: "missing"``
    (``"unreadable"``) instead of raising: a run that reports per-file errors still gets its
    manifest.
    """
    path = Path(path)
    base = path.parent
    now = datetime.now(timezone.utc)
    finished = finished or now
    started = started or finished
    secrets = [*redact, *_settings_secrets()]
    out_records: list[FileRecord] = []
    for out in outputs:
        out = Path(out)
        if not out.exists():
            raise InputError("output listed in the manifest does not exist", path=out)
        out_records += [_file_record(p, base) for p in _expand(out) if p.resolve() != path.resolve()]
    manifest = RunManifest(
        started_utc=started.astimezone(timezone.utc).isoformat(),
        finished_utc=finished.astimezone(timezone.utc).isoformat(),
        parameters=dict(parameters),
        algorithms={str(k): str(v) for k, v in algorithms.items()},
        inputs=_input_records(inputs, base, secrets, missing_inputs),
        outputs=out_records,
        command=list(command) if command is not None else None,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(manifest.to_json(secrets), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_manifest(path: Path) -> RunManifest:
    """Load a manifest written by :func:`write_manifest`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorruptFileError(f"unreadable run manifest: {exc}", path=path) from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise CorruptFileError("not a burnwatch run manifest (schema missing or unknown)", path=path)
    try:
        return RunManifest.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise CorruptFileError(f"malformed run manifest: {exc}", path=path) from exc


def verify_manifest(path: Path) -> list[str]:
    """Re-hash the files a manifest lists; return one line per missing or changed file."""
    path = Path(path)
    manifest = read_manifest(path)
    problems: list[str] = []
    for record in (*manifest.inputs, *manifest.outputs):
        if record.kind != "file" or record.path is None:
            continue
        target = Path(record.path) if Path(record.path).is_absolute() else path.parent / record.path
        if not target.is_file():
            problems.append(f"{record.path}: missing")
        elif sha256_file(target) != record.sha256:
            problems.append(f"{record.path}: sha256 differs")
    return problems
