"""Throughput of a multi-scene job: one process vs a Dask LocalCluster of 1 and 2 workers, and
a 2-worker run with one worker killed (SIGKILL) after the first result.

Each scene is the deterministic 1000 x 1000 px demo scene for its seed
(:class:`burnwatch.scale.dask_jobs.DemoSceneTask`): built on the worker, run through
``process_scene`` (fire detection + COG). Cluster start-up and a warm-up scene per worker (imports) are kept out of the job time.
Every Dask run's hotspots are compared with the single-process run (equal = none lost, none
duplicated). Prints a Markdown table and writes JSON with ``--json``.

    nice -n 10 .venv/bin/python scripts/bench_dask_scaling.py --scenes 8 --size 1000 --repeat 2
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


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}/{five:.2f}/{fifteen:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration (median reported)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from burnwatch.pipeline import ScanOptions
    from burnwatch.scale.dask_jobs import DemoSceneTask, TaskResult, dask_client, run_local, run_on_dask

    options = ScanOptions(quicklook="false")
    tasks = [DemoSceneTask(seed, args.size) for seed in range(1, args.scenes + 1)]
    rows: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_dask_"))
    print(
        f"# {args.scenes} scenes of {args.size}x{args.size} px; {os.cpu_count()} CPUs; load before {_load()}"
    )

    run_local([DemoSceneTask(10_000, 200)], tmp / "warm", options)  # same warm-up as the workers
    times = []
    reference = None
    for i in range(args.repeat):
        result = run_local(tasks, tmp / f"local{i}", options)
        times.append(result.seconds)
        reference = result.hotspots
    assert reference is not None
    rows.append({"config": "single process", "workers": 0, "startup_s": 0.0, "job_s": statistics.median(times),
                 "equal": True, "hotspots": len(reference), "load": _load()})  # fmt: skip

    for workers, kill in ((1, False), (2, False), (2, True)):
        t0 = time.perf_counter()
        with dask_client(workers=workers) as client:
            client.wait_for_workers(workers, timeout=300)
            startup = time.perf_counter() - t0
            # warm-up (not timed): one throw-away scene per worker pays the imports
            warm = [DemoSceneTask(10_000 + k, 200) for k in range(workers)]
            run_on_dask(client, warm, tmp / f"warm{workers}{kill}", options)
            times, equal, killed = [], True, ""
            for i in range(args.repeat):
                state: dict[str, str] = {}

                def kill_one(first: TaskResult, client: Any = client, state: dict[str, str] = state) -> None:
                    busy = [w for w, ks in client.processing().items() if ks]
                    victim = busy[0] if busy else str(first.worker)
                    pid = client.run(os.getpid, workers=[victim])[victim]
                    os.kill(pid, signal.SIGKILL)
                    state["victim"] = victim

                result = run_on_dask(
                    client,
                    tasks,
                    tmp / f"dask{workers}{kill}{i}",
                    options,
                    on_first_result=kill_one if kill else None,
                )
                times.append(result.seconds)
                equal = equal and result.hotspots == reference and not result.errors
                killed = state.get("victim", killed)
                if kill:
                    client.wait_for_workers(workers, timeout=300)  # the nanny restarts it
        name = f"LocalCluster {workers} worker(s)" + (", 1 killed after 1st result" if kill else "")
        rows.append({"config": name, "workers": workers, "startup_s": startup, "job_s": statistics.median(times),
                     "equal": equal, "hotspots": len(reference), "killed": killed, "load": _load()})  # fmt: skip

    print(
        "\n| configuration | cluster start (s) | job (s) | scenes/min | hotspots equal to single process | load 1/5/15 min after |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        rate = 60.0 * args.scenes / r["job_s"]
        r["scenes_per_min"] = rate
        print(f"| {r['config']} | {r['startup_s']:.1f} | {r['job_s']:.1f} | {rate:.1f} | "
              f"{'yes' if r['equal'] else 'NO'} ({r['hotspots']}) | {r['load']} |")  # fmt: skip
    meta = {"scenes": args.scenes, "size": args.size, "repeat": args.repeat, "cpus": os.cpu_count(),
            "python": platform.python_version(), "rows": rows}  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
