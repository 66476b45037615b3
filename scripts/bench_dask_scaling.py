"""Throughput of a multi-scene job: one process vs a Dask LocalCluster of 1 and 2 workers, and
a 2-worker run with one worker killed (SIGKILL) after the first result.

Each scene is the deterministic demo scene for its seed
(:class:`burnwatch.scale.dask_jobs.DemoSceneTask`): built on the worker, run through
``process_scene`` (fire detection + COG). Both clusters are started first (start-up timed
apart) and warmed up with one throw-away scene per worker (imports). The configurations are
then run *interleaved*, round after round, so that load from other users of the machine
hits all of them alike; the median and the best (least disturbed) round are reported. Every
Dask run's hotspots are compared with the single-process run (equal = none lost, none
duplicated). Prints a Markdown table; ``--json`` writes the raw timings.

    nice -n 10 .venv/bin/python scripts/bench_dask_scaling.py --scenes 8 --size 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    from burnwatch.pipeline import ScanOptions
    from burnwatch.scale.dask_jobs import DemoSceneTask, TaskResult, dask_client, run_local, run_on_dask

    options = ScanOptions(quicklook="false")
    tasks = [DemoSceneTask(seed, args.size) for seed in range(1, args.scenes + 1)]
    tmp = Path(tempfile.mkdtemp(prefix="bench_dask_"))
    configs = ["single process", "LocalCluster 1 worker", "LocalCluster 2 workers",
               "LocalCluster 2 workers, 1 killed after 1st result"]  # fmt: skip
    times: dict[str, list[float]] = {c: [] for c in configs}
    loads: list[float] = []
    equal = {c: True for c in configs}
    startup: dict[str, float] = {configs[0]: 0.0}
    print(
        f"# {args.scenes} scenes of {args.size}x{args.size} px, {args.rounds} rounds; {os.cpu_count()} CPUs"
    )

    run_local([DemoSceneTask(10_000, 200)], tmp / "warm", options)  # same warm-up as the workers
    t0 = time.perf_counter()
    with dask_client(workers=1) as one:
        one.wait_for_workers(1, timeout=300)
        startup[configs[1]] = time.perf_counter() - t0
        t0 = time.perf_counter()
        with dask_client(workers=2) as two:
            two.wait_for_workers(2, timeout=300)
            startup[configs[2]] = startup[configs[3]] = time.perf_counter() - t0
            for client, n in ((one, 1), (two, 2)):
                run_on_dask(
                    client, [DemoSceneTask(10_000 + k, 200) for k in range(n)], tmp / f"warm{n}", options
                )

            def kill_one(first: TaskResult) -> None:
                busy = [w for w, ks in two.processing().items() if ks]
                victim = busy[0] if busy else str(first.worker)
                pid = two.run(os.getpid, workers=[victim])[victim]
                os.kill(pid, signal.SIGKILL)

            for r in range(args.rounds):
                loads.append(_load())
                ref = run_local(tasks, tmp / f"local{r}", options)
                times[configs[0]].append(ref.seconds)
                runs: list[tuple[str, Any, Any]] = [(configs[1], one, None), (configs[2], two, None),
                                                    (configs[3], two, kill_one)]  # fmt: skip
                for name, client, hook in runs:
                    res = run_on_dask(client, tasks, tmp / f"{r}{name[:16]}", options, on_first_result=hook)
                    times[name].append(res.seconds)
                    equal[name] = equal[name] and res.hotspots == ref.hotspots and not res.errors
                two.wait_for_workers(2, timeout=300)  # the nanny restarts the killed worker
                loads.append(_load())
                print(
                    f"round {r + 1}: " + ", ".join(f"{c}: {times[c][-1]:.1f} s" for c in configs), flush=True
                )

    print(f"\nload average (1 min) during the rounds: {min(loads):.1f} - {max(loads):.1f}")
    print("\n| configuration | cluster start (s) | job median (s) | scenes/min (median) | scenes/min (best round) "
          "| hotspots equal to single process |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    rows = []
    for c in configs:
        med, best = statistics.median(times[c]), min(times[c])
        rows.append({"config": c, "startup_s": startup[c], "times_s": times[c], "equal": equal[c]})
        print(f"| {c} | {startup[c]:.1f} | {med:.1f} | {60 * args.scenes / med:.1f} | "
              f"{60 * args.scenes / best:.1f} | {'yes' if equal[c] else 'NO'} |")  # fmt: skip
    if args.json:
        meta = {"scenes": args.scenes, "size": args.size, "rounds": args.rounds, "cpus": os.cpu_count(),
                "python": platform.python_version(), "loads": loads, "rows": rows}  # fmt: skip
        args.json.write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
