"""Ingest one drone flight: validate every file, detect in a worker process, place on the ground.

``ingest_flight`` is the library entry point used by ``burnwatch drone ingest`` and the web
app. Bad files (not an image, truncated, no GPS, absurd altitude, decompression bomb,
duplicate) get a message in ``report.json`` and the rest of the flight goes on. The flight id
is a hash of the sorted photo hashes, so the same photos always give the same id, and outputs
are rewritten (not appended) on re-ingest.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from burnwatch.errors import BurnwatchError, ConflictError, InputError, ModelError
from burnwatch.flights.ortho import ORTHO_SIGMA_M, OrthoOutcome
from burnwatch.flights.outputs import FlightLayers, write_report
from burnwatch.flights.place import (
    camera_for,
    gps_jumps,
    height_model,
    lens_range_message,
    misses_dsm,
    photo_time,
    place_detections,
    sigma_for,
    to_wgs84,
)
from burnwatch.flights.worker import (
    DetectorFactory,
    DetectorUnavailableError,
    PhotoOutcome,
    init_worker,
    process_photo,
)
from burnwatch.georef.camera import DEFAULT_MAX_RANGE_M, Camera, DSMGround, Ground, PoseSigma, utm_crs_for
from burnwatch.georef.refine import PhotoRefinement, RefineParams, RefinePhoto, refine_attitudes
from burnwatch.sources.drone import FlightFiles, discover_flight, read_srt, sha256_file
from burnwatch.sources.drone_meta import DEFAULT_MAX_PIXELS, PhotoMeta, intrinsics_from_meta
from burnwatch.sources.drone_srt import SrtRecord
from burnwatch.types import Hotspot

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


def default_detector_factory() -> Any:
    """The shipped fire/smoke model (imported lazily; picklable for worker processes)."""
    from burnwatch.detect.yolo import Detector

    return Detector.load()


@dataclass
class FileReport:
    """One input file's fate. ``status``: ok | error | duplicate | ignored | telemetry | orthomosaic."""

    name: str
    status: str
    messages: list[str] = field(default_factory=list)
    sha256: str | None = None
    seconds: float | None = None
    detections: int = 0
    placed: int = 0


@dataclass
class FlightResult:
    flight_id: str
    out_dir: Path
    files: list[FileReport]
    hotspots: list[Hotspot]
    outputs: dict[str, Path]
    crs: str
    warnings: list[str] = field(default_factory=list)

    @property
    def ok_photos(self) -> int:
        return sum(f.status == "ok" for f in self.files)


def describe_factory(factory: DetectorFactory | None) -> str | None:
    """A stable, readable name for a detector factory (no memory addresses) for the report."""
    if factory is None:
        return None
    if isinstance(factory, functools.partial):
        args = [repr(a) for a in factory.args] + [f"{k}={v!r}" for k, v in factory.keywords.items()]
        return f"{describe_factory(factory.func)}({', '.join(args)})"
    name = getattr(factory, "__qualname__", None) or type(factory).__qualname__
    return f"{getattr(factory, '__module__', '')}.{name}".lstrip(".")


def _previous_flight(report_path: Path) -> str | None:
    """The flight id an output folder already holds (None: empty, or no readable report)."""
    try:
        previous = json.loads(report_path.read_text()).get("flight_id")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    return previous if isinstance(previous, str) else None


def photo_labels(photos: list[Path], root: Path) -> dict[Path, str]:
    """Each photo's name in reports and layers: its file name, or its path below ``root`` when
    the file name occurs more than once (``100MEDIA/DJI_0001.JPG``, ``101MEDIA/DJI_0001.JPG``)."""
    from collections import Counter

    counts = Counter(p.name for p in photos)
    return {p: p.relative_to(root).as_posix() if counts[p.name] > 1 else p.name for p in photos}


def flight_id_for(hashes: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(set(hashes))).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Job:
    """One file for the worker pool: ``fn(*args)`` in a worker; ``failed(problem)`` is its
    outcome when the worker dies or fails unexpectedly."""

    path: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    failed: Callable[[str], Any]


#: What a file is told when the worker process died while it was being processed.
WORKER_DIED = (
    "the worker process died while processing this file (out of memory, or a crash in a native "
    "library); skipped"
)


def _photo_job(path: str, thumb: str, max_pixels: int, features: bool) -> _Job:
    name = Path(path).name
    return _Job(
        path,
        process_photo,
        (path, thumb, max_pixels, features),
        lambda problem: PhotoOutcome(path=path, error=f"{name}: {problem}", error_type="WorkerFailure"),
    )


def _ortho_job(path: str) -> _Job:
    from burnwatch.flights.ortho import scan_task

    name = Path(path).name
    return _Job(path, scan_task, (path,), lambda problem: OrthoOutcome(path, error=f"{name}: {problem}"))


def _run_workers(
    jobs: list[_Job], factory: DetectorFactory | None, workers: int, progress: Progress | None
) -> dict[str, Any]:
    """``{path: outcome}`` of every job, in ``workers`` spawned processes that each build the
    detector once (0 = in this process).

    A detector that cannot be built stops the flight (:class:`ModelError`). A worker that
    dies (out of memory, a native crash) breaks the whole pool; the files it had not
    finished are then run again one at a time in a fresh one-process pool, so the next death
    names exactly the file that causes it, and only that file gets the error.
    """
    results: dict[str, Any] = {}
    total = len(jobs)

    def finish(job: _Job, outcome: Any) -> None:
        results[job.path] = outcome
        if progress:
            progress(len(results), total, Path(job.path).name)

    if not jobs:
        return results
    if workers <= 0:  # in-process (debugging)
        init_worker(factory)
        for job in jobs:
            try:
                finish(job, job.fn(*job.args))
            except DetectorUnavailableError as exc:
                raise ModelError(exc.message) from None
        return results
    import multiprocessing
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")
    pending, isolate = list(jobs), False
    while pending:
        size = 1 if isolate else workers
        with ProcessPoolExecutor(size, mp_context=ctx, initializer=init_worker, initargs=(factory,)) as pool:
            if isolate:  # one file at a time until the pool breaks: the file it broke on is the cause
                for job in pending:
                    try:
                        finish(job, pool.submit(job.fn, *job.args).result())
                    except DetectorUnavailableError as exc:
                        raise ModelError(exc.message) from None
                    except BrokenProcessPool:
                        finish(job, job.failed(WORKER_DIED))
                        break
                    except Exception as exc:
                        finish(job, job.failed(f"worker failed: {exc!r}"))
            else:
                futures: dict[Future[Any], _Job] = {pool.submit(job.fn, *job.args): job for job in pending}
                for fut in as_completed(futures):
                    job = futures[fut]
                    try:
                        finish(job, fut.result())
                    except DetectorUnavailableError as exc:
                        raise ModelError(exc.message) from None
                    except BrokenProcessPool:
                        isolate = True  # left in pending, run again below
                    except Exception as exc:  # an unexpected failure is that one file's error
                        finish(job, job.failed(f"worker failed: {exc!r}"))
                if isolate:
                    log.warning(
                        "a worker process died; %d unfinished file(s) are run again one at a time",
                        sum(job.path not in results for job in pending),
                    )
        pending = [job for job in pending if job.path not in results]
    return results


def _run_on_dask(
    scheduler: str,
    tasks: list[tuple[str, str]],
    factory: DetectorFactory | None,
    max_pixels: int,
    progress: Progress | None,
    features: bool,
) -> dict[str, PhotoOutcome]:
    """The per-photo step on a Dask cluster: same outcomes as :func:`_run_workers`."""
    from burnwatch.scale.dask_jobs import dask_client
    from burnwatch.scale.photos import DronePhotoTask, run_photos_on_dask

    jobs = [DronePhotoTask(path, thumb, max_pixels, factory, features) for path, thumb in tasks]
    with dask_client(scheduler) as client:
        return run_photos_on_dask(client, jobs, progress=progress)


def ingest_flight(
    path: Path,
    out_dir: Path,
    detector_factory: DetectorFactory | None = default_detector_factory,
    progress: Progress | None = None,
    *,
    dsm: Path | None = None,
    srt: Path | None = None,
    workers: int = 1,
    ground_elevation: float | None = None,
    alt_offset_m: float = 0.0,
    utc_offset_h: float | None = None,
    sigma: PoseSigma | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_range_m: float = DEFAULT_MAX_RANGE_M,
    overwrite: bool = False,
    refine_attitude: bool = False,
    refine_params: RefineParams | None = None,
    ortho_sigma_m: float = ORTHO_SIGMA_M,
    scheduler: str | None = None,
) -> FlightResult:
    """Ingest a flight folder or .zip into ``out_dir``; returns what was made and why.

    ``detector_factory`` builds an ``ImageDetector`` in each worker process (None: no
    detection, footprints and track only). ``progress(done, total, photo_name)`` is called
    as each photo finishes. ``workers`` worker processes (0 = in this process).
    ``utc_offset_h``: the camera clock's offset from UTC in hours (0 = UTC); None reads the
    clock as local time in the zone at each photo's position (flag ``camera-clock-local-zone``,
    :func:`burnwatch.flights.place.photo_time`).
    ``refine_attitude``: refine each photo's attitude from tie points with the flight's other
    photos (:mod:`burnwatch.georef.refine`); photos it cannot refine keep their metadata pose.
    ``scheduler``: a Dask scheduler address (``tcp://host:8786``); the photos are then
    processed on its workers (:mod:`burnwatch.scale.photos`; the flight folder and ``out_dir``
    must be on storage the workers share) and georeferenced here.
    Orthomosaic GeoTIFFs in the flight are scanned window by window
    (:mod:`burnwatch.flights.ortho`); ``ortho_sigma_m`` is their georeferencing error (1σ).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = discover_flight(Path(path), work_dir=out_dir / ".work", exclude=[out_dir])
    try:
        return _ingest_files(
            files,
            Path(path),
            out_dir,
            detector_factory,
            progress,
            dsm=dsm,
            srt=srt,
            workers=workers,
            ground_elevation=ground_elevation,
            alt_offset_m=alt_offset_m,
            utc_offset_h=utc_offset_h,
            sigma=sigma,
            max_pixels=max_pixels,
            max_range_m=max_range_m,
            overwrite=overwrite,
            refine_attitude=refine_attitude,
            refine_params=refine_params,
            ortho_sigma_m=ortho_sigma_m,
            scheduler=scheduler,
        )
    finally:  # an extracted zip is not kept: the outputs and thumbnails are what remain
        if files.root != Path(path):
            shutil.rmtree(files.root, ignore_errors=True)
            with contextlib.suppress(OSError):
                files.root.parent.rmdir()  # the work folder, when nothing else is in it


def _ingest_files(
    files: FlightFiles,
    path: Path,
    out_dir: Path,
    detector_factory: DetectorFactory | None,
    progress: Progress | None,
    *,
    dsm: Path | None,
    srt: Path | None,
    workers: int,
    ground_elevation: float | None,
    alt_offset_m: float,
    utc_offset_h: float | None,
    sigma: PoseSigma | None,
    max_pixels: int,
    max_range_m: float,
    overwrite: bool,
    refine_attitude: bool,
    refine_params: RefineParams | None,
    ortho_sigma_m: float,
    scheduler: str | None,
) -> FlightResult:
    """:func:`ingest_flight` once the flight's files are found (and a zip extracted)."""
    from_zip = files.root != path
    reports: list[FileReport] = []
    for p in files.ignored:
        reports.append(
            FileReport(p.name, "ignored", [f"{p.name}: not a photo, .SRT telemetry or GeoTIFF; ignored"])
        )
    srt_paths = ([Path(srt)] if srt else []) + files.srt
    track_records: list[SrtRecord] = []
    for p in srt_paths:
        try:
            recs = read_srt(p)
            track_records.extend(recs)
            note = f"{p.name}: {len(recs)} telemetry records"
            if recs.skipped:
                note += f"; {len(recs.skipped)} malformed block(s) skipped ({'; '.join(recs.skipped[:3])})"
            reports.append(FileReport(p.name, "telemetry", [note]))
        except BurnwatchError as exc:
            reports.append(FileReport(p.name, "error", [exc.message]))

    # hash first: duplicates by content never reach a worker, and the flight id is known
    by_hash: dict[str, Path] = {}
    unique: list[Path] = []
    photo_reports: dict[str, FileReport] = {}
    label = photo_labels(files.photos, files.root)
    for p in files.photos:
        digest = sha256_file(p)
        rep = FileReport(label[p], "ok", sha256=digest)
        photo_reports[str(p)] = rep
        reports.append(rep)
        if digest in by_hash:
            rep.status = "duplicate"
            rep.messages.append(
                f"{label[p]}: duplicate photo (same sha256 as {label[by_hash[digest]]}); skipped"
            )
        else:
            by_hash[digest] = p
            unique.append(p)
    ortho_hashes = {str(p): sha256_file(p) for p in files.orthomosaics}
    if not unique and not ortho_hashes:
        raise InputError("no photos or orthomosaics found in the flight", path=path)
    flight_id = flight_id_for([*by_hash, *ortho_hashes.values()])
    report_path = out_dir / "report.json"
    thumbs = out_dir / "thumbnails"
    previous = _previous_flight(report_path)
    if previous and previous != flight_id:
        if not overwrite:
            raise ConflictError(
                f"holds flight {previous}, not {flight_id}; use another folder or overwrite", path=out_dir
            )
        shutil.rmtree(thumbs, ignore_errors=True)  # the other flight's thumbnails go with it
    tasks = [
        (str(p), str(thumbs / f"{p.stem}_{(photo_reports[str(p)].sha256 or '')[:8]}.jpg")) for p in unique
    ]
    t0 = time.perf_counter()
    ortho_jobs = [_ortho_job(str(p)) for p in files.orthomosaics]
    if scheduler:  # photos on the cluster, mosaics in local workers
        outcomes = _run_workers(ortho_jobs, detector_factory, workers, progress)
        on_dask = _run_on_dask(scheduler, tasks, detector_factory, max_pixels, progress, refine_attitude)
        broken = [o for o in on_dask.values() if o.error_type == DetectorUnavailableError.__name__]
        if broken:
            raise ModelError(broken[0].error or "the detector could not be loaded on the cluster")
        outcomes.update(on_dask)
    else:  # one pool: each worker builds the detector once for photos and mosaics
        photo_jobs = [_photo_job(path, thumb, max_pixels, refine_attitude) for path, thumb in tasks]
        outcomes = _run_workers(photo_jobs + ortho_jobs, detector_factory, workers, progress)

    good: list[tuple[PhotoMeta, PhotoOutcome]] = []
    seen_pose: dict[tuple[object, ...], str] = {}
    for p in unique:
        out, rep = outcomes[str(p)], photo_reports[str(p)]
        rep.seconds = round(out.seconds, 3)
        if out.error:
            rep.status = "error"
            rep.messages.append(out.error)
            continue
        assert out.meta is not None
        m = out.meta if label[p] == p.name else replace(out.meta, label=label[p])
        # same second, position and camera attitude: a re-saved copy of one shot (a hovering
        # panorama takes several photos in one second from one place, at other angles)
        key = (
            m.time,
            round(m.lat or 0, 6),
            round(m.lon or 0, 6),
            m.abs_alt,
            m.rel_alt,
            m.camera_yaw,
            m.gimbal_pitch,
            m.gimbal_roll,
        )
        if m.time is not None and key in seen_pose:
            rep.status = "duplicate"
            rep.messages.append(
                f"{label[p]}: duplicate photo (same timestamp, position and camera angles as "
                f"{seen_pose[key]}); skipped"
            )
            continue
        seen_pose[key] = label[p]
        rep.messages.extend(f"{m.name}: {note}" for note in m.notes)
        rep.detections = len(out.detections)
        good.append((m, out))
    jumps = gps_jumps([m for m, _ in good])
    for m, _ in good:
        if m.path in jumps:
            rep = photo_reports[m.path]
            rep.status, rep.messages = "error", [*rep.messages, f"{m.name}: {jumps[m.path]}"]
    good = [(m, out) for m, out in good if m.path not in jumps]

    placement = _place_flight(
        good,
        photo_reports,
        flight_id,
        track_records,
        dsm=dsm,
        ground_elevation=ground_elevation,
        alt_offset_m=alt_offset_m,
        utc_offset_h=utc_offset_h,
        zip_times=from_zip,
        sigma=sigma or PoseSigma(),
        max_range_m=max_range_m,
        refine=(refine_params or RefineParams()) if refine_attitude else None,
    )
    reports.extend(
        _place_orthomosaics(
            [outcomes[job.path] for job in ortho_jobs],
            ortho_hashes,
            detector_factory is not None,
            placement,
            flight_id,
            _flight_time([m for m, _ in good], utc_offset_h, from_zip),
            ortho_sigma_m,
        )
    )
    from burnwatch.publish.vector import write_hotspots

    prefix = f"{files.root}/"  # name files as they are in the flight, never where it was extracted
    for r in reports:
        r.messages = [m.replace(prefix, "") for m in r.messages]
    outputs = placement.layers.write(out_dir)
    outputs["hotspots"] = write_hotspots(placement.hotspots, out_dir / "hotspots.geojson")
    outputs["thumbnails"] = thumbs
    outputs["report"] = report_path
    report = {
        "flight_id": flight_id,
        "input": str(path),
        "created": datetime.now(timezone.utc).isoformat(),
        "crs": placement.crs,
        "ground": placement.ground,
        "warnings": placement.warnings,
        "detector": describe_factory(detector_factory),
        "workers": scheduler or workers,
        "seconds_total": round(time.perf_counter() - t0, 3),
        "counts": {s: sum(r.status == s for r in reports) for s in sorted({r.status for r in reports})},
        "detections": sum(r.detections for r in reports),
        "hotspots": len(placement.hotspots),
        "attitude_refinement": placement.refinement,
        "files": [vars(r) for r in reports],
        # relative to the output folder, so the report stays right when the folder is moved
        "outputs": {k: Path(v).relative_to(out_dir).as_posix() for k, v in outputs.items()},
    }
    write_report(report_path, report)
    log.info("flight %s: %d photos ok, %d hotspots", flight_id, len(good), len(placement.hotspots))
    for w in placement.warnings:
        log.warning("flight %s: %s", flight_id, w)
    return FlightResult(
        flight_id, out_dir, reports, placement.hotspots, outputs, placement.crs, placement.warnings
    )


@dataclass
class _Placement:
    crs: str
    ground: str
    layers: FlightLayers
    hotspots: list[Hotspot]
    refinement: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)


def _place_flight(
    good: list[tuple[PhotoMeta, PhotoOutcome]],
    photo_reports: dict[str, FileReport],
    flight_id: str,
    track_records: list[SrtRecord],
    *,
    dsm: Path | None,
    ground_elevation: float | None,
    alt_offset_m: float,
    utc_offset_h: float | None,
    sigma: PoseSigma,
    max_range_m: float,
    refine: RefineParams | None = None,
    zip_times: bool = False,
) -> _Placement:
    """Georeference the valid photos (footprints) and their detections (points, polygons, hotspots)."""
    layers = FlightLayers(flight_id)
    if not good:
        return _Placement("EPSG:4326", "none (no valid photo)", layers, [])
    lons = sorted(m.lon for m, _ in good if m.lon is not None)
    lats = sorted(m.lat for m, _ in good if m.lat is not None)
    crs = utm_crs_for(lons[len(lons) // 2], lats[len(lats) // 2])
    dsm_ground = DSMGround.open(Path(dsm), crs=crs) if dsm else None
    hm = height_model([m for m, _ in good], dsm_ground, ground_elevation, alt_offset_m)
    hotspots: list[Hotspot] = []
    in_order = sorted(good, key=lambda g: (g[0].time or datetime.min, g[0].name))
    posed: list[tuple[PhotoMeta, PhotoOutcome, Camera, PoseSigma]] = []
    for m, out in in_order:
        rep = photo_reports[m.path]
        try:
            cam = camera_for(m, hm, crs)
        except BurnwatchError as exc:
            rep.status, rep.messages = "error", [*rep.messages, exc.message]
            continue
        photo_sigma = sigma_for(m, sigma)
        if m.camera_yaw is None or m.gimbal_pitch is None:
            rep.messages.append(
                f"{m.name}: no gimbal/flight attitude tags; assumed a nadir view with the image top "
                "to the north — uncertainty widened (yaw 90°, pitch 10°)"
            )
            photo_sigma = replace(photo_sigma, yaw_deg=90.0, pitch_deg=10.0, roll_deg=10.0)
        posed.append((m, out, cam, photo_sigma))
    refined, refinement = _refine(posed, hm.ground, refine) if refine is not None else ({}, None)
    blind: list[str] = []
    for m, out, cam, photo_sigma in posed:
        rep = photo_reports[m.path]
        r = refined.get(m.path)
        if r is not None:
            rep.messages.append(f"{m.name}: {r.message}")
            cam, photo_sigma = r.camera, r.sigma
        try:
            poly_native, clipped = cam.footprint(hm.ground, max_range=max_range_m)
        except BurnwatchError as exc:
            rep.status, rep.messages = "error", [*rep.messages, exc.message]
            continue
        when, tflag = photo_time(m, utc_offset_h, zip_times)
        intr_source = intrinsics_from_meta(m)[1]
        if m.dewarp_problem:
            rep.messages.append(
                f"{m.name}: {m.dewarp_problem}; the factory lens calibration is not used, the "
                f"camera is modelled from {intr_source} without lens distortion"
            )
        lens_note = lens_range_message(m.name, cam.intrinsics, intr_source)
        outside = misses_dsm(cam, hm.ground, max_range_m)
        if outside:
            rep.messages.append(f"{m.name}: {outside}")
            blind.append(m.name)
        elif lens_note:
            rep.messages.append(lens_note)
        elif clipped:
            rep.messages.append(
                f"{m.name}: footprint clipped at {max_range_m:.0f} m (rays above the horizon "
                "or outside the DSM)"
            )
        layers.add_footprint(
            m,
            when,
            clipped,
            intr_source,
            to_wgs84(poly_native, crs),
            r if r and r.refined else None,
        )
        placed, msgs = place_detections(
            cam, m, out.detections, hm.ground, photo_sigma, flight_id, when, tflag, max_range_m
        )
        rep.messages.extend(msgs)
        rep.placed = len(placed)
        for pd in placed:
            layers.add_detection(m.name, pd, crs)
            hotspots.append(pd.hotspot)
    if len(track_records) >= 2:
        layers.add_track([(r.lon, r.lat) for r in track_records], "srt")
    else:
        layers.add_track(
            [(m.lon, m.lat) for m, _ in in_order if m.lon is not None and m.lat is not None], "photos"
        )
    warnings = list(hm.warnings)
    if blind:
        warnings.append(
            f"{len(blind)} of {len(posed)} photo(s) see nothing of the DSM (no ray meets it): "
            f"{', '.join(blind[:5])}{' …' if len(blind) > 5 else ''} — is it the right area and CRS?"
        )
    return _Placement(crs, hm.description, layers, hotspots, refinement, warnings)


def _refine(
    posed: list[tuple[PhotoMeta, PhotoOutcome, Camera, PoseSigma]], ground: Ground, params: RefineParams
) -> tuple[dict[str, PhotoRefinement], dict[str, Any]]:
    """Attitude refinement of the placed photos (keyed by path) and its report.json section."""
    usable = [(m, out, cam, sig) for m, out, cam, sig in posed if out.features is not None]
    t0 = time.perf_counter()
    inputs = [
        RefinePhoto(m.name, c, sig, out.features) for m, out, c, sig in usable if out.features is not None
    ]
    try:
        result = refine_attitudes(inputs, ground, params)
    except Exception as exc:  # the refinement is an improvement, never a reason to lose the flight
        log.warning("attitude refinement failed: %r; metadata poses kept", exc)
        failed = f"refinement failed ({exc!r}); metadata poses kept"
        return {}, {"refined": 0, "photos": len(posed), "error": failed}
    by_path = {m.path: r for (m, _, _, _), r in zip(usable, result.photos, strict=True)}
    log.info("attitude refinement: %d of %d photos refined", result.refined, len(posed))
    section = {
        "method": "tie points between the flight's own photos + bundle adjustment (burnwatch.georef.refine)",
        "refined": result.refined,
        "photos": len(posed),
        "seconds": round(time.perf_counter() - t0, 3),
        "pairs": result.pairs,
        "per_photo": {r.name: r.summary() for r in result.photos},
    }
    return by_path, section


def _flight_time(metas: list[PhotoMeta], utc_offset_h: float | None, zip_times: bool) -> datetime | None:
    """The median UTC time of the flight's photos (None without photos)."""
    times = sorted(photo_time(m, utc_offset_h, zip_times)[0] for m in metas)
    return times[len(times) // 2] if times else None


def _place_orthomosaics(
    outcomes: list[OrthoOutcome],
    hashes: dict[str, str],
    detected: bool,
    placement: _Placement,
    flight_id: str,
    flight_time: datetime | None,
    sigma_m: float,
) -> list[FileReport]:
    """Add each scanned orthomosaic's detections to the flight's layers and hotspots; one
    report per mosaic."""
    from burnwatch.flights.ortho import ortho_time, place_ortho_detections

    reports = []
    for out in outcomes:
        p = Path(out.path)
        rep = FileReport(p.name, "orthomosaic", sha256=hashes.get(str(p)), seconds=round(out.seconds, 3))
        reports.append(rep)
        if out.error:
            rep.status, rep.messages = "error", [out.error]
            continue
        rep.messages.append(
            f"{p.name}: orthomosaic {out.crs}, {out.width} x {out.height} px, "
            f"{out.windows} window{'s' if out.windows != 1 else ''} scanned"
            if detected
            else f"{p.name}: orthomosaic {out.crs}, {out.width} x {out.height} px; not scanned (no detector)"
        )
        rep.detections = len(out.detections)
        if not out.detections:
            continue
        when = ortho_time(out, flight_time)
        if when is None:
            rep.status = "error"
            rep.messages.append(
                f"{p}: {len(out.detections)} detections not placed: the orthomosaic has no acquisition "
                "time (no TIFF DateTime tag) and the flight has no photos to take it from"
            )
            continue
        crs = placement.crs
        if crs == "EPSG:4326":  # no photos placed: the mosaic's own UTM zone
            from affine import Affine

            assert out.transform is not None and out.crs is not None
            cx, cy = Affine(*out.transform) @ (out.width / 2, out.height / 2)
            from pyproj import Transformer

            lon, lat = Transformer.from_crs(out.crs, "EPSG:4326", always_xy=True).transform(cx, cy)
            crs = placement.crs = utm_crs_for(lon, lat)
        placed = place_ortho_detections(out, flight_id, crs, *when, sigma_m=sigma_m)
        for pd in placed:
            placement.layers.add_detection(p.name, pd, crs)
            placement.hotspots.append(pd.hotspot)
        rep.placed = len(placed)
        rep.messages.append(
            f"{p.name}: {len(placed)} detections placed (±{placed[0].uncertainty_m:.1f} m, {when[1]})"
        )
    return reports
