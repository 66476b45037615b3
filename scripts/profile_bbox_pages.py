"""In-process experiments behind the bbox-page fixes in docs/api.md (no HTTP).

Runs on the bench databases of ``scripts/bench_api_latency.py`` (build them first with
``--workdir DIR``; this script migrates them to head and never touches other databases):

* ``gc``: incident pages for the benchmark's 200 province boxes with the garbage collector as
  it is vs after ``gc.freeze()`` (what ``burnwatch serve`` does at start-up): p50/p95.
* ``plans`` (PostGIS): three province hotspot pages 8 times each on one connection, with the
  server's default ``plan_cache_mode`` and with ``force_custom_plan`` (what burnwatch's
  connections set): psycopg prepares the statement after 5 runs, then the server may switch
  to one generic plan.
* ``index``: 40 province hotspot pages with the ``(time, lat, lon)`` index and with the
  ``(time)`` index it replaced (swapped on the bench databases, then restored).
* ``calibrate`` (SQLite): both hotspot plans forced on 75 boxes of 0.1-2° (best of 3 runs
  each): the match count from which the newest-first walk is always cheaper sets
  ``queries.ROW_VS_INDEX_ENTRY_COST``.

    .venv/bin/python scripts/bench_api_latency.py --backend both --workdir /tmp/bwbench
    .venv/bin/python scripts/profile_bbox_pages.py --workdir /tmp/bwbench gc plans index calibrate
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_api_latency as bench
from sqlalchemy import text

from burnwatch.api import queries
from burnwatch.store.db import dispose_engines, session_scope, upgrade


def boxes(
    d: dict[str, np.ndarray], size: float, n: int, seed: int
) -> list[tuple[float, float, float, float]]:
    """Boxes of ``size`` degrees centred on random hotspots (the benchmark's recipe)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        i = int(rng.integers(0, len(d["lon"])))
        x, y = float(d["lon"][i]), float(d["lat"][i])
        out.append((x - size / 2, y - size / 2, x + size / 2, y + size / 2))
    return out


def timed(fn: Callable[..., Any], *args: Any) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t0) * 1000


def pct(ms: list[float]) -> str:
    return f"p50 {np.percentile(ms, 50):6.1f} ms  p95 {np.percentile(ms, 95):6.1f} ms"


def gc_tail(urls: dict[str, str], d: dict[str, np.ndarray]) -> None:
    province = boxes(d, 1.0, 200, seed=3)  # the benchmark's province series
    for name, url in urls.items():
        for mode in ("collector as is", "after gc.freeze()"):
            if mode.startswith("after"):
                gc.collect()
                gc.freeze()
            with session_scope(url) as s:

                def page(b: tuple[float, float, float, float], s: Any = s) -> None:
                    features, n = queries.incident_features(s, queries.Filters(bbox=b), 1000, 0)
                    queries.feature_collection(features, numberMatched=n)

                ms = [timed(page, b) for b in province]
            gc.unfreeze()
            print(f"gc      {name:8s} incidents, province boxes, {mode:18s} {pct(ms)}")


def plans(urls: dict[str, str]) -> None:
    url = urls.get("postgis")
    if url is None:
        return
    province = [(105.5, 20.3, 106.5, 21.3), (105.4, 20.2, 106.4, 21.2), (105.6, 20.4, 106.6, 21.4)]
    for mode in ("auto", "force_custom_plan"):
        dispose_engines()  # fresh connections: nothing prepared yet
        with session_scope(url) as s:
            s.execute(text(f"SET plan_cache_mode = {mode}"))
            for b in province:
                f = queries.Filters(bbox=b)
                ms = [timed(queries.hotspot_points, s, f, 1000, 0) for _ in range(8)]
                print(
                    f"plans   postgis  plan_cache_mode={mode:17s} box {b}: 8 runs (ms)",
                    [round(m) for m in ms],
                )


@contextmanager
def time_index_only(url: str) -> Iterator[None]:
    """The bench database with ``(time)`` instead of ``(time, lat, lon)``, restored after."""
    with session_scope(url) as s:
        s.execute(text("DROP INDEX ix_hotspots_time_lat_lon"))
        s.execute(text("CREATE INDEX ix_hotspots_time ON hotspots (time)"))
        s.execute(text("ANALYZE hotspots"))
    try:
        yield
    finally:
        with session_scope(url) as s:
            s.execute(text("DROP INDEX ix_hotspots_time"))
            s.execute(text("CREATE INDEX ix_hotspots_time_lat_lon ON hotspots (time, lat, lon)"))
            s.execute(text("ANALYZE hotspots"))


def index(urls: dict[str, str], d: dict[str, np.ndarray]) -> None:
    province = boxes(d, 1.0, 40, seed=5)

    def run(url: str) -> list[float]:
        with session_scope(url) as s:
            queries.hotspot_points(s, queries.Filters(bbox=province[0]), 1000, 0)  # warm
            return [timed(queries.hotspot_points, s, queries.Filters(bbox=b), 1000, 0) for b in province]

    for name, url in urls.items():
        with time_index_only(url):
            before = run(url)
        after = run(url)
        print(f"index   {name:8s} province hotspot pages, (time) index:          {pct(before)}")
        print(f"index   {name:8s} province hotspot pages, (time, lat, lon) index: {pct(after)}")


def calibrate(urls: dict[str, str], d: dict[str, np.ndarray]) -> None:
    url = urls.get("sqlite")
    if url is None:
        return
    from sqlalchemy import func, select

    from burnwatch.store.models import HotspotRow

    rows = []
    real = queries._newest_first_is_cheaper
    with session_scope(url) as s:
        total = int(s.scalar(select(func.count()).select_from(HotspotRow)) or 0)
        for k, size in enumerate((0.1, 0.3, 0.6, 1.0, 2.0)):
            for b in boxes(d, size, 15, seed=11 + k):
                f = queries.Filters(bbox=b)
                matches = int(
                    s.scalar(select(func.count()).select_from(queries.hotspot_stmt(f).subquery())) or 0
                )
                cost = {}
                for forced in (True, False):
                    setattr(queries, "_newest_first_is_cheaper", lambda *a, forced=forced: forced)  # noqa: B010
                    cost[forced] = min(timed(queries.hotspot_points, s, f, 1000, 0) for _ in range(3))
                rows.append((matches, cost[True], cost[False]))
    setattr(queries, "_newest_first_is_cheaper", real)  # noqa: B010
    rows.sort()
    for m, walk, lat in rows:
        print(f"calib   sqlite   {m:8,d} matches: time walk {walk:7.1f} ms, (lat, lon) index {lat:7.1f} ms")
    # the smallest match count from which the newest-first walk wins for every bigger box
    crossover = next(
        (m for i, (m, _, _) in enumerate(rows) if all(walk < lat for _, walk, lat in rows[i:])), None
    )
    if crossover:
        print(
            f"calib   crossover ~{crossover:,} matches -> c = total * rows / crossover² = {total * 1000 / crossover**2:.0f}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiments", nargs="+", choices=["gc", "plans", "index", "calibrate"])
    ap.add_argument("--workdir", type=Path, required=True, help="the bench_api_latency.py --workdir")
    ap.add_argument("--backend", choices=["sqlite", "postgis", "both"], default="both")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--incidents", type=int, default=100_000)
    ap.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    urls = {}
    if args.backend in ("sqlite", "both"):
        urls["sqlite"] = f"sqlite:///{args.workdir / 'bench.db'}"
    if args.backend in ("postgis", "both"):
        urls["postgis"] = (
            args.pg_admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            + "/burnwatch_bench"
        )
    for url in urls.values():
        upgrade(url)
    d = bench.synth(args.rows, args.incidents)
    for name in args.experiments:
        {"gc": lambda: gc_tail(urls, d), "plans": lambda: plans(urls), "index": lambda: index(urls, d),
         "calibrate": lambda: calibrate(urls, d)}[name]()  # fmt: skip
    dispose_engines()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
