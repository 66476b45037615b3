"""Latency of the web API's bbox queries with 1,000,000 hotspots, on SQLite and PostGIS.

Builds a DEDICATED bench database (never the test or production one) per backend:
``<workdir>/bench.db`` for SQLite (bulk-loaded with ``executemany``) and a database
``burnwatch_bench`` on the local PostgreSQL server (bulk-loaded with ``COPY``), migrated with
the project's Alembic revisions. Synthetic data: ``--incidents`` incidents spread over
Vietnam's bounding box in clusters (rice-growing regions), each with ``rows/incidents``
hotspots within ~1 km, times over one year.

Then serves the real app (``create_app``) with uvicorn on 127.0.0.1 only and times, from a
client on the same machine, ``GET /api/hotspots?bbox=...`` and ``GET /api/incidents?bbox=...``
for random district-sized (0.1 deg) and province-sized (1 deg) boxes around incidents.
Bounded: ``--requests`` per series and ``--max-seconds`` per series.

    nice -n 10 .venv/bin/python scripts/bench_api_latency.py --backend both --rows 1000000

Prints a Markdown table (p50/p95/max in ms, matched rows) and the machine load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VIETNAM = (102.2, 8.6, 109.4, 23.3)
REGIONS = [  # (lon, lat, sigma deg): Red River delta, north-west uplands, Mekong delta, central coast
    (106.0, 20.8, 0.5),
    (103.8, 21.5, 0.6),
    (105.6, 10.2, 0.6),
    (108.2, 14.5, 0.7),
]
PROVINCES = [
    "Hưng Yên",
    "Thái Bình",
    "Sơn La",
    "Điện Biên",
    "An Giang",
    "Đồng Tháp",
    "Quảng Ngãi",
    "Bình Định",
]
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
PASSWORD = "latency-probe-7"  # not containing the user name "bench" (refused)


def synth(rows: int, n_inc: int, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    region = rng.integers(0, len(REGIONS), n_inc)
    c = np.array(REGIONS)[region]
    lon = np.clip(c[:, 0] + rng.normal(0, 1, n_inc) * c[:, 2], VIETNAM[0], VIETNAM[2])
    lat = np.clip(c[:, 1] + rng.normal(0, 1, n_inc) * c[:, 2], VIETNAM[1], VIETNAM[3])
    inc_of = np.arange(rows) % n_inc
    h_lon = lon[inc_of] + rng.uniform(-0.008, 0.008, rows)
    h_lat = lat[inc_of] + rng.uniform(-0.008, 0.008, rows)
    inc_day = rng.integers(0, 365, n_inc)
    h_sec = inc_day[inc_of] * 86400 + rng.integers(0, 86400, rows)
    h_sec = h_sec * 16 + (np.arange(rows) % 16)  # unique-ish natural keys
    return {
        "lon": lon,
        "lat": lat,
        "day": inc_day,
        "region": region,
        "h_lon": h_lon,
        "h_lat": h_lat,
        "h_sec": h_sec // 16,
        "h_frac": (h_sec % 16) * 1000,
        "inc_of": inc_of,
        "conf": rng.uniform(0.05, 1.0, rows),
    }


def _wkb(lon: np.ndarray, lat: np.ndarray, half: float, hex_srid: bool) -> tuple[list, list]:  # type: ignore[type-arg]
    import shapely

    pts = shapely.points(lon, lat)
    boxes = shapely.box(lon - half, lat - half, lon + half, lat + half)
    if hex_srid:
        pts, boxes = shapely.set_srid(pts, 4326), shapely.set_srid(boxes, 4326)
        return list(shapely.to_wkb(pts, hex=True, include_srid=True)), list(
            shapely.to_wkb(boxes, hex=True, include_srid=True)
        )
    return list(shapely.to_wkb(pts)), list(shapely.to_wkb(boxes))


INC_COLS = (
    "id, status, first_seen, last_seen, lon, lat, min_lon, min_lat, max_lon, max_lat, geom, confidence, "
    "hotspot_count, source_counts, province, static_source, created_at, updated_at"
)
HS_COLS = (
    "id, source, sensor, algorithm, algorithm_version, kind, time, lon, lat, key_lon, key_lat, confidence, "
    "confidence_class, pixel_count, crs, geom, footprint, attributes, flags, incident_id, created_at"
)


def _rows(
    d: dict[str, np.ndarray], n_inc: int, rows: int, pg: bool, chunk: int
) -> Iterator[tuple[str, list]]:  # type: ignore[type-arg]
    fmt = (lambda t: t.isoformat()) if pg else (lambda t: t.strftime("%Y-%m-%d %H:%M:%S.%f"))
    now = fmt(datetime.now(timezone.utc) if pg else datetime.now(timezone.utc).replace(tzinfo=None))
    geoms, _ = _wkb(d["lon"], d["lat"], 0.01, pg)
    _, boxes = _wkb(d["lon"], d["lat"], 0.008, pg)
    per = rows // n_inc
    inc_rows = []
    for i in range(n_inc):
        first = T0 + timedelta(days=int(d["day"][i]))
        inc_rows.append(
            (
                i + 1,
                "active",
                fmt(first),
                fmt(first + timedelta(hours=23)),
                float(d["lon"][i]),
                float(d["lat"][i]),
                float(d["lon"][i]) - 0.008,
                float(d["lat"][i]) - 0.008,
                float(d["lon"][i]) + 0.008,
                float(d["lat"][i]) + 0.008,
                boxes[i],
                0.7,
                per,
                json.dumps({"firms": per}),
                PROVINCES[(int(d["region"][i]) * 2 + i % 2) % len(PROVINCES)],
                False if pg else 0,
                now,
                now,
            )
        )
    yield "incidents", inc_rows
    del geoms
    classes = np.array(["low", "nominal", "high"])[np.digitize(d["conf"], [0.3, 0.8])]
    for start in range(0, rows, chunk):
        sl = slice(start, min(rows, start + chunk))
        pts, fps = _wkb(d["h_lon"][sl], d["h_lat"][sl], 0.0005, pg)
        out = []
        for j, (lo, la, sec, frac, inc, conf, cls, p, fp) in enumerate(
            zip(
                d["h_lon"][sl],
                d["h_lat"][sl],
                d["h_sec"][sl],
                d["h_frac"][sl],
                d["inc_of"][sl],
                d["conf"][sl],
                classes[sl],
                pts,
                fps,
                strict=True,
            )
        ):
            t = T0 + timedelta(seconds=int(sec), microseconds=int(frac))
            out.append(
                (
                    start + j + 1,
                    "firms",
                    "MODIS",
                    "c61",
                    "1",
                    "fire",
                    fmt(t),
                    float(lo),
                    float(la),
                    round(float(lo) * 1e5),
                    round(float(la) * 1e5),
                    float(conf),
                    str(cls),
                    1,
                    "EPSG:4326",
                    p,
                    fp,
                    "{}",
                    "[]",
                    int(inc) + 1,
                    now,
                )
            )
        yield "hotspots", out


def load_sqlite(path: Path, d: dict[str, np.ndarray], n_inc: int, rows: int) -> str:
    import sqlite3

    from burnwatch.store.db import get_engine, upgrade

    path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    upgrade(url)
    get_engine(url).dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    for table, batch in _rows(d, n_inc, rows, pg=False, chunk=100_000):
        cols = INC_COLS if table == "incidents" else HS_COLS
        marks = ",".join("?" * len(cols.split(",")))
        con.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", batch)
        con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()
    return url


def load_postgis(admin_url: str, d: dict[str, np.ndarray], n_inc: int, rows: int) -> str:
    import psycopg

    from burnwatch.store.db import get_engine, upgrade

    name = "burnwatch_bench"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/{name}", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    url = base.replace("postgresql://", "postgresql+psycopg://") + "/" + name
    upgrade(url)
    get_engine(url).dispose()
    with psycopg.connect(f"{base}/{name}") as conn:
        for table, batch in _rows(d, n_inc, rows, pg=True, chunk=100_000):
            cols = INC_COLS if table == "incidents" else HS_COLS
            with conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
            conn.commit()
        conn.autocommit = True
        conn.execute(f"SELECT setval('incidents_id_seq', {n_inc})")
        conn.execute(f"SELECT setval('hotspots_id_seq', {rows})")
        conn.execute("VACUUM ANALYZE")
    return url


@contextlib.contextmanager
def serve(url: str, workdir: Path) -> Iterator[str]:
    import socket

    import uvicorn

    from burnwatch.api import create_app
    from burnwatch.config import load_settings
    from burnwatch.errors import ConflictError
    from burnwatch.store.db import session_scope
    from burnwatch.store.users import add_user

    try:
        with session_scope(url) as s:
            add_user(s, "bench", "analyst", PASSWORD, actor="bench")
    except ConflictError:  # a reused bench database
        pass
    settings = load_settings(database_url=url, data_dir=workdir / "data", secret_key="bench-secret")
    app = create_app(settings, detector_factory=None, flight_workers=0, freeze_gc=True)  # as `burnwatch serve`
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def measure(base: str, d: dict[str, np.ndarray], n_requests: int, max_s: float, seed: int = 3) -> list[dict]:  # type: ignore[type-arg]
    import httpx

    rng = np.random.default_rng(seed)
    results = []
    with httpx.Client(base_url=base, timeout=60) as client:
        r = client.post("/api/token", json={"username": "bench", "password": PASSWORD})
        r.raise_for_status()
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        for path in ("/api/hotspots", "/api/incidents"):
            for label, size in (("district 0.1°", 0.1), ("province 1°", 1.0)):
                lat_ms, matched = [], []
                client.get(path, params={"bbox": "105,20,105.1,20.1", "limit": 1000})  # warm-up
                t_end = time.monotonic() + max_s
                for _ in range(n_requests):
                    i = int(rng.integers(0, len(d["lon"])))
                    x, y = float(d["lon"][i]), float(d["lat"][i])
                    bbox = f"{x - size / 2:.4f},{y - size / 2:.4f},{x + size / 2:.4f},{y + size / 2:.4f}"
                    t0 = time.perf_counter()
                    resp = client.get(path, params={"bbox": bbox, "limit": 1000})
                    lat_ms.append((time.perf_counter() - t0) * 1000)
                    resp.raise_for_status()
                    matched.append(resp.json()["numberReturned"])
                    if time.monotonic() > t_end:
                        break
                q = np.percentile(lat_ms, [50, 95])
                results.append(
                    {
                        "query": f"GET {path}?bbox ({label}, limit 1000)",
                        "n": len(lat_ms),
                        "p50_ms": round(float(q[0]), 1),
                        "p95_ms": round(float(q[1]), 1),
                        "max_ms": round(max(lat_ms), 1),
                        "features_median": int(statistics.median(matched)),
                    }
                )
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgis", "both"], default="both")
    ap.add_argument("--rows", type=int, default=1_000_000, help="hotspots (default 1,000,000)")
    ap.add_argument("--incidents", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200, help="requests per series (bounded)")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="time cap per series")
    ap.add_argument(
        "--pg-admin",
        default=os.environ.get("BURNWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    ap.add_argument(
        "--workdir", type=Path, default=None, help="where the SQLite bench DB goes (default: a temp dir)"
    )
    ap.add_argument(
        "--reuse", action="store_true", help="reuse the bench databases of an earlier run (same sizes)"
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    args = ap.parse_args()
    if args.rows % args.incidents:
        ap.error("--rows must be a multiple of --incidents")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="burnwatch-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    backends = ["sqlite", "postgis"] if args.backend == "both" else [args.backend]
    d = synth(args.rows, args.incidents)
    report: dict[str, object] = {
        "rows": args.rows,
        "incidents": args.incidents,
        "cpus": os.cpu_count(),
        "loadavg_before": os.getloadavg(),
        "results": {},
    }
    for backend in backends:
        t0 = time.perf_counter()
        if args.reuse:
            from burnwatch.store.db import upgrade

            url = (
                f"sqlite:///{workdir / 'bench.db'}"
                if backend == "sqlite"
                else args.pg_admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
                + "/burnwatch_bench"
            )
            upgrade(url)  # bring an older bench database to the current schema
        elif backend == "sqlite":
            url = load_sqlite(workdir / "bench.db", d, args.incidents, args.rows)
        else:
            url = load_postgis(args.pg_admin, d, args.incidents, args.rows)
        load_s = time.perf_counter() - t0
        print(
            f"{backend}: loaded {args.rows:,} hotspots + {args.incidents:,} incidents in {load_s:.0f} s",
            flush=True,
        )
        with serve(url, workdir) as base:
            res = measure(base, d, args.requests, args.max_seconds)
        report["results"][backend] = {"load_s": round(load_s, 1), "series": res}  # type: ignore[index]
        from burnwatch.store.db import get_engine

        get_engine(url).dispose()
    report["loadavg_after"] = os.getloadavg()
    print(
        f"\nmachine: {os.cpu_count()} CPUs, load average before {report['loadavg_before']}, after {report['loadavg_after']}"
    )
    print(
        "\n| backend | query | n | p50 ms | p95 ms | max ms | features (median) |\n|---|---|---|---|---|---|---|"
    )
    for backend, r in report["results"].items():  # type: ignore[attr-defined]
        for s in r["series"]:
            print(
                f"| {backend} | {s['query']} | {s['n']} | {s['p50_ms']} | {s['p95_ms']} | {s['max_ms']} | {s['features_median']} |"
            )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    if args.workdir is None and not args.reuse:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
