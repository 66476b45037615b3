"""Time a drone flight ingest with the real fire/smoke detector on real full-size photos.

Ingests the six 4000x2250 DJI FC300S photos in ../shared/data/drone/dji_fc300s_brighton with
the shipped detector (models/) in worker processes and prints the per-photo times from
report.json. Needs the shipped weights; exits with a message otherwise.

    nice -n 10 .venv/bin/python scripts/bench_drone_flight.py [--workers 1] [--backend onnx]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_detector(backend: str) -> object:
    from burnwatch.detect.yolo import Detector

    return Detector.load(backend="torch" if backend == "torch" else "onnx")


def main() -> None:
    from burnwatch.errors import ModelError
    from burnwatch.flights import ingest_flight

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--backend", default="onnx", choices=["onnx", "torch"])
    args = ap.parse_args()
    try:
        load_detector(args.backend)
    except ModelError as exc:
        sys.exit(f"no detector: {exc.message}")
    src = args.shared / "data/drone/dji_fc300s_brighton"
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = ingest_flight(
            src,
            Path(tmp) / "out",
            detector_factory=functools.partial(load_detector, args.backend),
            workers=args.workers,
            progress=lambda d, t, n: print(f"  {d}/{t} {n}", flush=True),
        )
        wall = time.perf_counter() - t0
        report = json.loads((Path(tmp) / "out/report.json").read_text())
    secs = [f["seconds"] for f in report["files"] if f["status"] == "ok"]
    print(f"{len(secs)} photos 4000x2250, workers={args.workers}, backend={args.backend}")
    print(
        f"per photo (decode+detect+thumbnail, in the worker): median {statistics.median(secs):.2f} s, "
        f"max {max(secs):.2f} s; whole ingest incl. worker start-up and model load {wall:.1f} s"
    )
    print(f"detections {report['detections']}, hotspots {len(res.hotspots)}")


if __name__ == "__main__":
    main()
