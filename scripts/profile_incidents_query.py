"""Where the time of a province-scale incidents page goes (SQL vs ORM vs GeoJSON geometry).

Builds a throwaway SQLite bench database with the latency benchmark's generator (default
300,000 hotspots in 100,000 incidents), runs the query behind ``GET /api/incidents?bbox=``
for a 1° box around Hưng Yên (page of 1,000) without HTTP, and prints the mean time per call
(the served fast path and, for comparison, the ORM-object path) and a cProfile of the
served one.

    .venv/bin/python scripts/profile_incidents_query.py [--rows 300000] [--incidents 100000]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_api_latency as bench

from burnwatch.api import queries
from burnwatch.store.db import dispose_engines, session_scope


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--incidents", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = bench.synth(args.rows, args.incidents)
        url = bench.load_sqlite(Path(tmp) / "profile.db", data, args.incidents, args.rows)
        f = queries.Filters(bbox=(105.5, 20.5, 106.5, 21.5))
        with session_scope(url) as s:

            def orm_page() -> int:
                rows, total = queries.incidents(s, f, 1000, 0)
                [queries.incident_feature(i, c) for i, c in rows]
                s.expunge_all()
                return total

            def page() -> int:
                features, total = queries.incident_features(s, f, 1000, 0)
                queries.feature_collection(features, numberMatched=total, numberReturned=len(features))
                return total or 0

            for name, fn in (("ORM objects + shapely mapping()", orm_page), ("incident_features (served)", page)):
                total = fn()  # warm-up
                t0 = time.perf_counter()
                for _ in range(args.repeat):
                    fn()
                ms = (time.perf_counter() - t0) / args.repeat * 1000
                print(f"{name}: 1,000 of {total} matching incidents: {ms:.0f} ms/call")
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(args.repeat):
                page()
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(20)
        dispose_engines()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
