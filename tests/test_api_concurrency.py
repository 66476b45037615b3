"""Parallel writes through the web app on SQLite: every request is served, none is a 500.

Before: request sessions began with a plain (deferred) ``BEGIN``; two requests that each read
and then wrote deadlocked on the read-to-write lock upgrade, which SQLite fails at once
("database is locked") without waiting out ``busy_timeout``: 8 of 16 parallel notes were 500s.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from apifixtures import HY, ApiEnv, live_server, sqlite_api_fixture  # noqa: F401
from dbfixtures import _fast_password_hashing, sqlite_template  # noqa: F401


def test_parallel_notes_and_uploads_on_sqlite_are_all_served(sqlite_api: ApiEnv) -> None:
    api = sqlite_api
    case = api.cases[HY]
    headers = api.headers("analyst")
    with live_server(api.app) as base, httpx.Client(base_url=base, timeout=120) as client:

        def note(i: int) -> tuple[int, int | None]:
            r = client.post(f"/api/cases/{case}/notes", json={"text": f"note {i}"}, headers=headers)
            return r.status_code, r.json().get("seq") if r.status_code == 200 else None

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(note, range(24)))
    assert [code for code, _ in results] == [200] * 24, results
    seqs = sorted(seq for _, seq in results if seq is not None)
    assert seqs == list(range(seqs[0], seqs[0] + 24)), seqs  # one event each, no gap, no repeat
