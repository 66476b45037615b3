"""Benchmark the shipped fire/smoke detector on this CPU: onnxruntime vs torch.

    nice -n 10 .venv/bin/python scripts/bench_detector.py [--repeat 5] [--json runs/bench.json]

Cases: a 640x640 image (letterboxed to the model size, and at 640 input), and a 4000x3000
drone photo with sliced inference (candidate tiles = default; all tiles for comparison). The
4000x3000 frame is a real DJI FC300S nadir photo from ../shared (4000x2250, padded with a flipped
strip to 4000x3000) with three synthetic fires composited in; without ../shared a procedural
paddy scene is used. Reports median seconds per image and images/s, plus the 1-minute load average
(the CPU is shared, so numbers vary with other work).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT.parent / "shared" / "data" / "drone" / "dji_fc300s_brighton" / "DJI_0018.JPG"


def big_frame(seed: int = 0) -> np.ndarray:
    from burnwatch.detect.imageio import read_rgb
    from burnwatch.training import synthetic as syn

    rng = np.random.default_rng(seed)
    if PHOTO.is_file():
        photo = read_rgb(PHOTO)
        frame = np.concatenate([photo, photo[: 3000 - photo.shape[0]][::-1]], axis=0)
    else:
        import cv2

        frame = cv2.resize(syn.paddy_background(1000, rng), (4000, 3000))
    frame = np.ascontiguousarray(frame[:3000, :4000])
    for x, y in ((600, 500), (2300, 1400), (3300, 2500)):  # three small fires
        patch, _ = syn.composite(frame[y:y + 320, x:x + 320].copy(), rng, n_fires=1,
                                 smoke_prob=0.5)
        frame[y:y + 320, x:x + 320] = patch
    return frame


def timeit(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--backends", default="onnx,torch")
    args = ap.parse_args()

    from burnwatch.detect.yolo import Detector
    from burnwatch.training import synthetic as syn

    small, _ = syn.composite(syn.paddy_background(640, np.random.default_rng(1)),
                             np.random.default_rng(2), n_fires=2)
    big = big_frame()
    rows = []
    for backend in args.backends.split(","):
        det = Detector.load(backend=backend)  # type: ignore[arg-type]
        cases: list[tuple[str, Callable[[], object]]] = [
            (f"640x640, input {det.imgsz}", lambda d=det: d.detect(small)),
            ("640x640, input 640", lambda d=det: d.raw(small, size=640)),
            (f"4000x3000 sliced, candidate tiles ({det.imgsz}px)",
             lambda d=det: d.detect_sliced(big)),
            ("4000x3000 sliced, candidate tiles (640px)",
             lambda d=det: d.detect_sliced(big, tile=640)),
            (f"4000x3000 sliced, all tiles ({det.imgsz}px)",
             lambda d=det: d.detect_sliced(big, select="all")),
        ]
        for name, fn in cases:
            reps = args.repeat if "all tiles" not in name else max(1, args.repeat // 3)
            sec = timeit(fn, reps)
            n_fire = None
            if "4000" in name:
                n_fire = sum(1 for d in fn() if d.class_name == "fire")  # type: ignore[attr-defined]
            rows.append({"backend": backend, "case": name, "seconds": round(sec, 4),
                         "images_per_s": round(1 / sec, 2), "fires": n_fire,
                         "load1": round(os.getloadavg()[0], 2)})
            print(f"{backend:6s} {name:45s} {sec * 1000:8.1f} ms  {1 / sec:6.2f} img/s"
                  f"  load {os.getloadavg()[0]:.1f}" + (f"  fires {n_fire}" if n_fire else ""))
    print("\n| backend | case | s/image | images/s | load avg |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['case']} | {r['seconds']:.3f} | {r['images_per_s']:.2f} "
              f"| {r['load1']} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"cpu_count": os.cpu_count(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
