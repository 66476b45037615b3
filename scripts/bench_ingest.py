"""Ingest throughput: N synthetic hotspots (clustered like rice-field burns) into a fresh
database, then the same batch again (all duplicates). Prints hotspots/s for both.

    nice -n 10 .venv/bin/python scripts/bench_ingest.py --n 2000 \
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/DBNAME]

Without --database a temporary SQLite file is used. The PostgreSQL database must exist and
have the postgis extension.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from shapely.geometry import box
from sqlalchemy import func, select

from burnwatch.incidents.clustering import ClusterParams
from burnwatch.store import db
from burnwatch.store.ingest import ScanRecord, ingest_hotspots
from burnwatch.store.models import Incident
from burnwatch.types import Hotspot


def synthetic(n: int, seed: int = 1) -> list[Hotspot]:
    rng = np.random.default_rng(seed)
    centres = rng.uniform([104.0, 10.0], [107.0, 22.0], size=(max(1, n // 5), 2))  # ~5 pixels per burn
    t0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        c = centres[i % len(centres)]
        lon, lat = c + rng.normal(0, 0.002, 2)
        t = t0 + timedelta(hours=float(rng.integers(0, 24 * 7)))
        out.append(
            Hotspot(
                source="sentinel2",
                sensor="MSI",
                algorithm="bench",
                time=t,
                lon=float(lon),
                lat=float(lat),
                confidence=float(rng.uniform(0.3, 1.0)),
                confidence_class="nominal",
                footprint=box(lon - 1e-4, lat - 1e-4, lon + 1e-4, lat + 1e-4),
            )
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--database")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    db.upgrade(url)
    hs = synthetic(args.n)
    rec = ScanRecord(kind="scan", source="sentinel2", label="bench", input_hashes={"n": str(args.n)})
    params = ClusterParams(distance_m=1000.0, window=timedelta(hours=24))
    for label in ("first ingest", "re-ingest (all duplicates)"):
        t = time.perf_counter()
        with db.session_scope(url) as s:
            r = ingest_hotspots(s, hs, rec, params=params)
        dt = time.perf_counter() - t
        print(
            f"{label}: {args.n} hotspots in {dt:.2f} s = {args.n / dt:.0f} hotspots/s; added {r.added}, "
            f"incidents created {r.incidents_created}, merged {r.incidents_merged}"
        )
    with db.session_scope(url) as s:
        print(
            "active incidents:",
            s.scalar(select(func.count()).select_from(Incident).where(Incident.status == "active")),
        )
    print("database:", db.get_engine(url).dialect.name)


if __name__ == "__main__":
    main()
