"""The reports and approvals writers alone, checkouts side by side (issue 17, branch ``ins17``).

``python benchmarks/profiles/writers17.py [--python A --python B] [--rounds N] [--pages P]``:
for each round and interpreter (another checkout's venv, e.g. ``/work/main/.venv/bin/python``;
default this one) a child process writes ``P`` pages into a new SQLite database, each in its own
transaction, as the syncs do: a reports page (20 reports, 5 contents and 3 receivers each:
``upsert_reports`` with contents, ``replace_receivers`` — or, where the upsert takes them, the
receivers in the upsert) and an approvals page (20 instances,
each with 6 form values, 3 tasks, 3 operation records, 2 cc: ``store_instances``), every page
written twice (the second time replacing the first). Printed: process CPU per page write, ms,
per (interpreter, writer): best and median of the rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any


def _report_page(p: int) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], dict]:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    rows, contents, receivers = [], {}, {}
    for i in range(20):
        rid = f"r{p:05d}-{i:02d}"
        rows.append(
            {
                "report_id": rid,
                "template_name": "日报",
                "creator_id": f"u{i}",
                "creator_name": "张三",
                "dept_name": "研发部",
                "create_time": base + timedelta(minutes=p * 20 + i),
                "modified_time": base + timedelta(minutes=p * 20 + i, seconds=5),
                "remark": "",
                "images": None,
                "synced_at": base,
                "raw": {"report_id": rid, "template_name": "日报", "creator_id": f"u{i}"},
            }
        )
        contents[rid] = [
            {
                "key": f"字段{k}",
                "sort": str(k),
                "type": "1",
                "value": f"内容 {k} " * 8,
                "state": None,
            }
            for k in range(5)
        ]
        receivers[rid] = [f"u{(i + k) % 50}" for k in range(3)]
    return rows, contents, receivers


def _approval_page(p: int) -> list[dict[str, Any]]:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for i in range(20):
        pid = f"p{p:05d}-{i:02d}"
        at = base + timedelta(minutes=p * 20 + i)
        out.append(
            {
                "instance": {
                    "process_instance_id": pid,
                    "process_code": "PROC-1",
                    "title": "报销",
                    "status": "COMPLETED",
                    "result": "agree",
                    "originator_userid": f"u{i}",
                    "create_time": at,
                    "finish_time": at + timedelta(hours=1),
                    "raw": {"title": "报销", "status": "COMPLETED"},
                },
                "form_values": [
                    {
                        "seq": k,
                        "component_id": f"TextField-{k}",
                        "name": f"字段{k}",
                        "component_type": "TextField",
                        "value": f"值 {k}",
                        "ext_value": None,
                        "parsed": None if k % 2 else {"v": k},
                    }
                    for k in range(6)
                ],
                "tasks": [
                    {
                        "seq": k,
                        "taskid": f"{pid}-t{k}",
                        "userid": f"u{k}",
                        "task_status": "COMPLETED",
                        "task_result": "AGREE",
                        "create_time": at,
                        "finish_time": at + timedelta(minutes=k),
                        "activity_id": f"act{k}",
                        "url": None,
                    }
                    for k in range(3)
                ],
                "operation_records": [
                    {
                        "seq": k,
                        "userid": f"u{k}",
                        "date": at + timedelta(minutes=k),
                        "operation_type": "EXECUTE_TASK_NORMAL",
                        "operation_result": "AGREE",
                        "remark": None,
                        "attachments": None,
                    }
                    for k in range(3)
                ],
                "cc": [{"userid": "u7"}, {"userid": "u8"}],
            }
        )
    return out


def child(pages: int) -> None:
    import inspect

    from dingsync.store import db, repo_approvals, repo_reports

    # A checkout whose upsert takes the receivers (exp18: the reports sync's way) writes them
    # in it; older ones replace them after the upsert, as their syncs do.
    together = "receivers" in inspect.signature(repo_reports.upsert_reports).parameters
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        engine = db.create_engine_for(f"sqlite:///{tmp}/w.db")
        db.migrate(engine)
        report_pages = [_report_page(p) for p in range(pages)]
        approval_pages = [_approval_page(p) for p in range(pages)]
        for name in ("reports", "approvals"):
            cpu = time.process_time()
            for _again in range(2):
                for p in range(pages):
                    with engine.begin() as conn:
                        if name == "reports":
                            rows, contents, receivers = report_pages[p]
                            if together:
                                repo_reports.upsert_reports(conn, "corp", rows, contents, receivers)
                            else:
                                repo_reports.upsert_reports(conn, "corp", rows, contents)
                                repo_reports.replace_receivers(conn, "corp", receivers)
                        else:
                            repo_approvals.store_instances(conn, "corp", approval_pages[p])
            out[name] = (time.process_time() - cpu) * 1000 / (2 * pages)
        engine.dispose()
    print("RESULT " + json.dumps(out), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--python", action="append")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args.pages)
        return
    pythons = args.python or [sys.executable]
    got: dict[tuple[str, str], list[float]] = {}
    for rnd in range(args.rounds):
        for py in pythons:
            cmd = [py, __file__, "--child", "--pages", str(args.pages)]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            line = [x for x in res.stdout.splitlines() if x.startswith("RESULT ")][-1]
            for name, ms in json.loads(line[len("RESULT ") :]).items():
                got.setdefault((py, name), []).append(ms)
                print(f"round {rnd} {py} {name}: {ms:.3f} ms per page write", flush=True)
    print("\n| interpreter | writer | rounds | best ms/page | median ms/page |")
    print("| --- | --- | --- | --- | --- |")
    for (py, name), values in got.items():
        best, med = min(values), statistics.median(values)
        print(f"| {py} | {name} | {len(values)} | {best:.3f} | {med:.3f} |")


if __name__ == "__main__":
    main()
