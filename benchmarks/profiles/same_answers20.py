"""Two trees' sandboxes answer the attendance sync's calls with the same bytes (branch att20).

``python benchmarks/profiles/same_answers20.py [--users 2000] [--days 30] [--tree
LABEL=ROOT[:PYTHON] ...]`` from the repository's root: starts one sandbox per tree (``python
-m dingsync.cli sandbox`` with ``PYTHONPATH=ROOT/src``; same seed, no QPS limit, no latency),
then asks each, for every 50 people × 7-day window of the sync's range (the bench's chunks),
every ``/attendance/list`` page (``limit`` 50 until ``hasMore`` is false), ``listRecord`` and
``schedule/listbyusers``, and compares the raw answer bodies (``request_id`` — a random id per
call on ``/topapi`` — set aside). Prints the calls compared and the first difference, if any.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench_directory import _free_port  # noqa: E402

from dingsync.dingtalk.attendance import batches, date_windows, gmt8_ms  # noqa: E402


class Sandbox:
    def __init__(self, root: Path, python: str, users: int, days: int) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [python, "-m", "dingsync.cli", "sandbox", "--port", str(self.port)]
        cmd += ["--users", str(users), "--seed", "42", "--days", str(days), "--qps", "0"]
        env = {**os.environ, "PYTHONPATH": str(root / "src")}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
        for _ in range(900):
            try:
                self.app = httpx.get(f"{self.url}/sandbox/app", timeout=1).json()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stats = httpx.get(f"{self.url}/sandbox/stats", timeout=600).json()
        token = httpx.get(
            f"{self.url}/gettoken",
            params={"appkey": self.app["app_key"], "appsecret": self.app["app_secret"]},
            timeout=30,
        ).json()
        self.token = token["access_token"]
        self.http = httpx.Client(base_url=self.url, timeout=60)

    def post(self, path: str, body: dict[str, Any]) -> bytes:
        resp = self.http.post(path, params={"access_token": self.token}, json=body)
        if resp.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status_code}")
        if path.startswith("/topapi"):  # the per-call request_id aside
            data = json.loads(resp.content)
            data.pop("request_id", None)
            return resp.content.split(b',"request_id"')[0] + json.dumps(sorted(data)).encode()
        return resp.content

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(10)


def calls(people: list[str], start: date, end: date) -> list[tuple[str, dict[str, Any], bool]]:
    """``(path, body, paged)`` of the sync's chunk calls."""
    out: list[tuple[str, dict[str, Any], bool]] = []
    for chunk in batches(people, 50):
        for a, b in date_windows(start, end, 7):
            out.append(
                (
                    "/attendance/list",
                    {
                        "workDateFrom": f"{a.isoformat()} 00:00:00",
                        "workDateTo": f"{b.isoformat()} 00:00:00",
                        "userIdList": chunk,
                        "limit": 50,
                    },
                    True,
                )
            )
            out.append(
                (
                    "/attendance/listRecord",
                    {
                        "userIds": chunk,
                        "checkDateFrom": f"{a.isoformat()} 00:00:00",
                        "checkDateTo": f"{(b + timedelta(days=1)).isoformat()} 00:00:00",
                    },
                    False,
                )
            )
            out.append(
                (
                    "/topapi/attendance/schedule/listbyusers",
                    {
                        "op_user_id": chunk[0],
                        "userids": ",".join(chunk),
                        "from_date_time": gmt8_ms(a),
                        "to_date_time": gmt8_ms(b, end_of_day=True),
                    },
                    False,
                )
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--tree", action="append", default=[], help="LABEL=ROOT[:PYTHON]")
    args = ap.parse_args()
    trees = []
    for spec in args.tree or ["main=/work/main", "att20=."]:
        label, _, where = spec.partition("=")
        root, _, python = where.partition(":")
        path = Path(root).resolve()
        trees.append((label, path, python or str(path / ".venv/bin/python")))
    boxes = [Sandbox(root, python, args.users, args.days) for _, root, python in trees]
    try:
        end = date.fromisoformat(boxes[0].stats["attendance"]["work_date_to"])
        start = end - timedelta(days=args.days - 1)
        company = json.loads(httpx.get(f"{boxes[0].url}/sandbox/company", timeout=60).content)
        users = company["users"]
        people = sorted(users if isinstance(users, dict) else (u["userid"] for u in users))
        compared = 0
        for path, body, paged in calls(people, start, end):
            offset = 0
            while True:
                if paged:
                    body = {**body, "offset": offset}
                answers = [box.post(path, body) for box in boxes]
                compared += 1
                if any(a != answers[0] for a in answers[1:]):
                    print(f"DIFFERENT: {path} {json.dumps(body)[:200]}")
                    for (label, _, _), a in zip(trees, answers, strict=True):
                        print(f"  {label}: {a[:300]!r}")
                    raise SystemExit(1)
                if not paged or b'"hasMore":true' not in answers[0]:
                    break
                offset += 50
        print(f"{compared} answers compared, {len(people)} people: the same bytes in every tree")
    finally:
        for box in boxes:
            box.close()


if __name__ == "__main__":
    main()
