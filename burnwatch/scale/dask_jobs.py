"""Scenes, tiles and dates as tasks on ``dask.distributed``; one writer ingests.

A job is a list of :class:`Task` values: each names itself with a deterministic key and,
on a worker, loads its own input (a Sentinel Hub day/tile, a FIRMS date range, a demo
scene) and runs :func:`burnwatch.pipeline.process_scene` on it, writing only its own files
(``<out>/scenes/<scene>_fire.tif``). Workers return a :class:`TaskResult` (hotspots + product
paths); the client process is the only one that writes to the database, one transaction
per task result (:func:`burnwatch.store.ingest.ingest_hotspots` is idempotent), so
idempotency and transactions hold however the work is spread.

Failure model: ``client.submit(..., key=task.key, retries=2)``. When a worker dies its
tasks are recomputed elsewhere by the scheduler; a key is collected once, so a recomputed
task cannot duplicate hotspots. A task that fails for a data reason (a
:class:`~burnwatch.errors.BurnwatchError`) is reported per key and the job goes on.

Cluster: ``LocalCluster(n_workers=N, threads_per_worker=1, processes=True)`` by default (the
detectors are NumPy-bound and hold the GIL, so processes, not threads), or an existing
scheduler at ``tcp://HOST:PORT`` (``--scheduler`` / ``BURNWATCH_DASK_SCHEDULER``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from burnwatch.errors import BurnwatchError, NoDataError
from burnwatch.pipeline import ScanOptions
from burnwatch.types import Hotspot, Scene

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)


def task_key(*parts: object) -> str:
    """A deterministic Dask key from the parts that identify a unit of work."""
    digest = hashlib.sha1(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:20]
    return f"burnwatch-{parts[0]}-{digest}" if parts else f"burnwatch-{digest}"


@dataclass(frozen=True)
class TaskResult:
    """What a worker sends back for one task (small: no arrays)."""

    key: str
    label: str
    hotspots: tuple[Hotspot, ...]
    scenes: int = 0
    fire_pixels: int = 0
    products: tuple[str, ...] = ()  # files written (COGs)
    algorithm: str = ""
    algorithm_version: str = ""
    seconds: float = 0.0
    worker: str | None = None
    problems: tuple[str, ...] = ()  # what the task skipped but survived (bad rows, failed calls)


class Task(Protocol):
    """A picklable unit of work; ``run`` executes on a worker."""

    @property
    def key(self) -> str: ...

    @property
    def label(self) -> str: ...

    def run(self, out_dir: Path, options: ScanOptions) -> TaskResult: ...


def _scene_result(
    key: str, label: str, scenes: Sequence[Scene], out_dir: Path, options: ScanOptions
) -> TaskResult:
    from burnwatch.pipeline import process_scene

    started = time.perf_counter()
    hotspots: list[Hotspot] = []
    products, pixels, algorithm, version = [], 0, "", ""
    for scene in scenes:
        product = process_scene(scene, out_dir, options)
        hotspots += product.hotspots
        products.append(str(product.fire_cog))
        pixels += product.fire_pixels
        algorithm, version = product.algorithm, product.algorithm_version
    return TaskResult(
        key, label, tuple(hotspots), len(scenes), pixels, tuple(products), algorithm, version,
        time.perf_counter() - started, _worker_address(),
    )  # fmt: skip


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return None


@dataclass(frozen=True)
class DemoSceneTask:
    """The deterministic demo scene for ``seed`` (see :mod:`burnwatch.sources.synthetic`),
    acquired ``seed`` hours after the demo time so every seed is a distinct scene."""

    seed: int
    size: int = 1000

    @property
    def key(self) -> str:
        return task_key("demo", self.seed, self.size)

    @property
    def label(self) -> str:
        return f"demo seed {self.seed} ({self.size} px)"

    def scene(self) -> Scene:
        from burnwatch.sources.synthetic import make_demo_scene

        demo = make_demo_scene(seed=self.seed, size=self.size).scene
        return replace(
            demo, scene_id=f"demo-s{self.seed}-{self.size}", time=demo.time + timedelta(hours=self.seed)
        )

    def run(self, out_dir: Path, options: ScanOptions) -> TaskResult:
        return _scene_result(self.key, self.label, [self.scene()], out_dir, options)


@dataclass(frozen=True)
class SentinelHubDayTask:
    """One acquisition day of a Sentinel Hub collection over one AOI tile (WGS84 box)."""

    collection: str
    bbox: tuple[float, float, float, float]
    day: datetime  # UTC midnight
    resolution_m: float
    max_cloud: float | None
    settings: Any = field(default=None, compare=False)  # burnwatch.config.Settings

    @property
    def key(self) -> str:
        return task_key("sh", self.collection, self.bbox, self.day.date(), self.resolution_m, self.max_cloud)

    @property
    def label(self) -> str:
        return f"{self.collection} {self.day:%Y-%m-%d} {','.join(f'{v:.4f}' for v in self.bbox)}"

    def run(self, out_dir: Path, options: ScanOptions) -> TaskResult:
        from shapely.geometry import box

        from burnwatch.sources.sentinelhub import SentinelHubSource
        from burnwatch.types import AOI

        source = SentinelHubSource(
            self.collection, self.settings, resolution_m=self.resolution_m, max_cloud=self.max_cloud
        )
        last = self.day + timedelta(days=1) - timedelta(microseconds=1)
        try:
            scenes = list(source.scenes(AOI(box(*self.bbox), "tile"), self.day, last))
        except NoDataError:
            scenes = []  # no granule over this tile that day: nothing to scan, not a failure
        if source.errors:
            raise source.errors[0]
        return _scene_result(self.key, self.label, scenes, out_dir, options)


@dataclass(frozen=True)
class FirmsRangeTask:
    """FIRMS hotspots of one product over one AOI box for ``[start, end)`` (UTC days)."""

    product: str
    bbox: tuple[float, float, float, float]
    start: datetime
    end: datetime
    settings: Any = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return task_key("firms", self.product, self.bbox, self.start.date(), self.end.date())

    @property
    def label(self) -> str:
        return f"FIRMS {self.product} {self.start:%Y-%m-%d}..{self.end - timedelta(days=1):%Y-%m-%d}"

    def run(self, out_dir: Path, options: ScanOptions) -> TaskResult:
        from shapely.geometry import box

        from burnwatch.sources.firms import FirmsClient
        from burnwatch.types import AOI

        started = time.perf_counter()
        client = FirmsClient(self.settings, source=self.product)
        found = client.hotspots(
            AOI(box(*self.bbox), "area"), self.start, self.end - timedelta(microseconds=1)
        )
        return TaskResult(
            self.key,
            self.label,
            tuple(found),
            seconds=time.perf_counter() - started,
            worker=_worker_address(),
            problems=tuple(e.message for e in client.errors),  # a failed 10-day call, bad rows
        )


def run_task(task: Task, out_dir: str, options: ScanOptions) -> TaskResult:
    """The function Dask runs on a worker for every task."""
    return task.run(Path(out_dir), options)


@dataclass
class JobResult:
    """Results by task key (in task order) and per-task errors; nothing is dropped silently."""

    results: dict[str, TaskResult] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # survived by tasks that succeeded

    @property
    def hotspots(self) -> list[Hotspot]:
        return [h for r in self.results.values() for h in r.hotspots]


Writer = Callable[[TaskResult], None]
Progress = Callable[[int, int, str], None]


def _order(tasks: Sequence[Task], result: JobResult) -> JobResult:
    order = {t.key: i for i, t in enumerate(tasks)}
    result.results = dict(sorted(result.results.items(), key=lambda kv: order[kv[0]]))
    return result


def unique_tasks(tasks: Sequence[Task]) -> list[Task]:
    seen: dict[str, Task] = {}
    for t in tasks:
        seen.setdefault(t.key, t)
    return list(seen.values())


def _record_problems(result: JobResult, task: Task, r: TaskResult) -> None:
    """A task that succeeded in part: what it skipped is reported with the job, not dropped."""
    result.problems.extend(f"{task.label}: {problem}" for problem in r.problems)


def run_local(
    tasks: Sequence[Task],
    out_dir: Path,
    options: ScanOptions = ScanOptions(),
    *,
    writer: Writer | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """The same job in this process, one task after the other (reference and fallback)."""
    tasks = unique_tasks(tasks)
    started = time.perf_counter()
    result = JobResult()
    for done, task in enumerate(tasks, start=1):
        try:
            r = run_task(task, str(out_dir), options)
        except BurnwatchError as exc:
            result.errors[task.key] = f"{task.label}: {exc.message}"
        else:
            result.results[task.key] = r
            _record_problems(result, task, r)
            if writer:
                writer(r)
        if progress:
            progress(done, len(tasks), task.label)
    result.seconds = time.perf_counter() - started
    return _order(tasks, result)


def run_on_dask(
    client: Client,
    tasks: Sequence[Task],
    out_dir: Path,
    options: ScanOptions = ScanOptions(),
    *,
    retries: int = 2,
    writer: Writer | None = None,
    progress: Progress | None = None,
    on_first_result: Callable[[TaskResult], None] | None = None,
) -> JobResult:
    """Submit every task under its deterministic key; the caller's ``writer`` (e.g. a database
    ingest) runs here, in the client, for each result as it arrives."""
    from distributed import as_completed

    tasks = unique_tasks(tasks)
    by_key = {t.key: t for t in tasks}
    started = time.perf_counter()
    futures = [
        client.submit(run_task, t, str(out_dir), options, key=t.key, retries=retries, pure=False)
        for t in tasks
    ]
    result = JobResult()
    for done, future in enumerate(as_completed(futures), start=1):
        key = str(future.key)
        task = by_key[key]
        if future.status == "error":
            exc = future.exception()
            message = exc.message if isinstance(exc, BurnwatchError) else f"{type(exc).__name__}: {exc}"
            result.errors[key] = f"{task.label}: {message}"
            log.error("task %s failed: %s", task.label, message)
        elif key not in result.results:
            r: TaskResult = future.result()
            result.results[key] = r
            _record_problems(result, task, r)
            if writer:
                writer(r)
            if on_first_result and len(result.results) == 1:
                on_first_result(r)
        if progress:
            progress(done, len(tasks), task.label)
        future.release()
    result.seconds = time.perf_counter() - started
    return _order(tasks, result)


@contextmanager
def dask_client(
    scheduler: str | None = None, workers: int | None = None, *, settings: Any = None
) -> Iterator[Client]:
    """A client on ``scheduler`` (or ``settings.dask_scheduler``), else on a new LocalCluster
    of ``workers`` single-threaded worker processes (default 2), closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler is None:
        from burnwatch.config import get_settings

        scheduler = (settings or get_settings()).dask_scheduler
    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            from burnwatch.errors import ConfigError

            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        with client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=workers or 2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # a free port: never clash with another cluster on this machine
        silence_logs=logging.WARNING,
    )
    with cluster, Client(cluster) as client:
        yield client
