"""Drone photos as Dask tasks: the flight worker's per-photo step on a cluster.

:func:`burnwatch.flights.worker.process_photo` (validate EXIF/XMP, decode, detect, thumbnail;
never raises for bad input) runs on Dask workers, one task per photo under a deterministic
key (path, size, modification time). The detector is built once per worker process from a
picklable factory (e.g. :func:`burnwatch.flights.ingest.default_detector_factory`). The
result has the shape of the flight ingest's own process-pool runner
(``{path: PhotoOutcome}``), so georeferencing and the database write stay in the client.
A worker that dies is replaced and its photos recomputed (``retries``); a photo whose task
still fails becomes that photo's error, never the flight's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from burnwatch.errors import BurnwatchError
from burnwatch.scale.dask_jobs import Progress, task_key

if TYPE_CHECKING:
    from distributed import Client

    from burnwatch.flights.worker import PhotoOutcome

#: factory -> detector already built in this (worker) process.
_BUILT: dict[Any, Any] = {}


@dataclass(frozen=True)
class DronePhotoTask:
    """One photo; ``thumb_path`` is where its annotated thumbnail goes (shared storage)."""

    path: str
    thumb_path: str
    max_pixels: int = 200_000_000
    detector_factory: Callable[[], Any] | None = None
    features: bool = False  # SIFT keypoints for attitude refinement

    @property
    def key(self) -> str:
        st = os.stat(self.path) if os.path.exists(self.path) else None
        stamp = (st.st_size, st.st_mtime_ns) if st else None
        return task_key("photo", os.path.abspath(self.path), stamp, self.thumb_path)

    def run(self) -> PhotoOutcome:
        from burnwatch.flights import worker

        factory = self.detector_factory
        if factory not in _BUILT:  # build once per worker process; a failure is kept too
            worker.init_worker(factory)
            _BUILT[factory] = (worker._DETECTOR, worker._INIT_ERROR)
        worker._DETECTOR, worker._INIT_ERROR = _BUILT[factory]
        return worker.process_photo(self.path, self.thumb_path, self.max_pixels, self.features)


def run_photo_task(task: DronePhotoTask) -> PhotoOutcome:
    """What a Dask worker runs for every photo."""
    return task.run()


def run_photos_on_dask(
    client: Client,
    tasks: list[DronePhotoTask],
    *,
    retries: int = 2,
    progress: Progress | None = None,
) -> dict[str, PhotoOutcome]:
    """``{photo path: PhotoOutcome}`` for every task, computed on ``client``'s workers."""
    from distributed import as_completed

    from burnwatch.flights.worker import PhotoOutcome

    unique = list({t.key: t for t in tasks}.values())
    futures = {client.submit(run_photo_task, t, key=t.key, retries=retries, pure=False): t for t in unique}
    results: dict[str, PhotoOutcome] = {}
    for done, future in enumerate(as_completed(futures), start=1):
        task = futures[future]
        if future.status == "error":
            exc = future.exception()
            failed = f"{task.path}: worker failed: {exc!r}"
            message = exc.message if isinstance(exc, BurnwatchError) else failed
            results[task.path] = PhotoOutcome(path=task.path, error=message, error_type=type(exc).__name__)
        else:
            results[task.path] = future.result()
        if progress:
            progress(done, len(unique), Path(task.path).name)
        future.release()
    return {t.path: results[t.path] for t in unique}
