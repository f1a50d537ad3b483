"""Native backup jobs whose snapshot takes simulated minutes: what one job costs, and that it does not grow with them.

    .venv/bin/python bench/native.py                  # EBS, RDS, DynamoDB; 10- and 60-minute snapshots
    .venv/bin/python bench/native.py --minutes 10 --minutes 240

moto finishes a snapshot at once; the twin can make it take simulated minutes (coffer_twin.native_durations:
``twin.native.set`` / ``advance``). Each job is measured as bench/run.py measures a job (``run.measure``: AWS calls
at botocore's ``before-send`` by the handlers and by Step Functions, the execution's ``*StateEntered`` events,
Lambda invocations; the bench's own calls are not counted): its event is put, the bench waits until the workflow
has parked on its snapshot (the waiter record holds its task token), lets the minutes pass, and waits for the end.
The ResumeNative invocation that AWS's end event sets off is counted with the job, and so is the notifier on the
job's events (NotifyFunction, invoked asynchronously: waited for before the count closes).

DynamoDB announces no backup's end and moto's CreateBackup is AVAILABLE at once (as it usually is on AWS): its
job is measured as it runs, the minutes do not apply (``snapshot_minutes`` 0 in its row).

``before`` is the poll loop this replaced, as bench/cost_model.py modelled it: the same type's backup measured by
bench/run.py with the poll-loop workflow (``per_type``, an instant snapshot) plus one turn of the loop (3 state
transitions, 1 Lambda invocation, 2 calls: the job read and the Describe) every PollSeconds (30) of the snapshot.

Results are merged into bench/results.json under ``native_jobs`` (read again just before writing).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers"))
sys.path.insert(0, str(ROOT / "bench"))

#: the twin operation each measured type's snapshot is
OPERATIONS = {"EBS": "ec2:CreateSnapshot", "RDS": "rds:CreateDBSnapshot", "DynamoDB": None}
#: the poll loop this replaced: PollSeconds, and what one turn of it cost (bench/cost_model.py's per-poll record)
POLL_SECONDS = 30
PER_POLL = {"state_transitions": 3, "lambda_invocations": 1, "api_calls": 2}


def parked_then(coffer: Any, token: str, minutes: float,
                waiter_ref: Callable[[str, str], str] = lambda ref, job_id: ref) -> Callable[[str], None]:
    """The `during` hook of run.measure: wait until the job's workflow parks on its snapshot (or ends), then let
    `minutes` of simulated time pass. `waiter_ref(native_ref, job_id)`: whose waiter record the park writes (a
    backup's is its snapshot's; a restore's its target's and job's: bench/native_restores.py)."""
    from coffer.domain.errors import NotFound
    from coffer.domain.job_ids import job_id_for
    from coffer.domain.native_waits import WAITER_SORT_KEY, waiter_key

    dynamodb, sfn = coffer.client("dynamodb"), coffer.client("stepfunctions")
    job_id = job_id_for(token)

    def during(execution_arn: str) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING":
                return
            try:
                ref = coffer.deps.catalog.get_job(job_id).native_ref
            except NotFound:
                ref = None
            if ref:
                waiter = dynamodb.get_item(TableName=coffer.settings.catalog_table, ConsistentRead=True, Key={
                    "pk": {"S": waiter_key(waiter_ref(ref, job_id))}, "sk": {"S": WAITER_SORT_KEY}}).get("Item", {})
                if "task_token" in waiter:
                    coffer.twin.native.advance(datetime.timedelta(minutes=minutes))
                    return
            time.sleep(0.05)
        raise TimeoutError(f"job {job_id} never parked on its snapshot")

    return during


def before(per_type: dict[str, Any], kind: str, minutes: float) -> dict[str, Any] | None:
    """The poll loop's job with a `minutes` snapshot, from the poll-loop workflow's measured instant job."""
    measured = per_type.get(kind, {}).get("backup")
    if not measured or "api_calls" not in measured:
        return None
    polls = math.ceil(minutes * 60 / POLL_SECONDS) if minutes else 0
    return {"polls": polls, **{key: measured[key] + polls * PER_POLL[key] for key in PER_POLL},
            "measured_instant": {key: measured[key] for key in PER_POLL}}


def native_jobs(minutes_list: list[float]) -> dict[str, Any]:
    import run

    from coffer_cli.local.session import local_twin

    rows: dict[str, Any] = {}
    with local_twin(ROOT, wait_scale=1.0) as coffer:
        # one-time work of a session (first records of their kind) is not counted against the first type
        warm_arn, _, _ = run._ebs(coffer, 900)
        coffer.twin.wait(coffer.twin.put_event("coffer", "StartBackupJob", {
            "ResourceArn": warm_arn, "IdempotencyToken": "native-warm-up"})[0], timeout=600)
        coffer.twin.wait_for_async()
        for n, (kind, operation) in enumerate(OPERATIONS.items()):
            row: dict[str, Any] = {}
            for minutes in minutes_list if operation else [0]:
                arn, data, _ = run.TYPES[kind](coffer, 100 * (n + 1) + int(minutes))
                token = f"native-{kind}-{minutes}"
                if operation:
                    coffer.twin.native.set(operation, minutes=minutes)
                job = run.measure(coffer, "StartBackupJob", {"ResourceArn": arn, "IdempotencyToken": token}, data,
                                  during=parked_then(coffer, token, minutes), settle=True)
                coffer.twin.native.reset()
                coffer.twin.wait_for_async()
                job["states"] = [e["stateEnteredEventDetails"]["name"] for e in coffer.twin.history(
                    job["execution_arn"]) if e["type"].endswith("StateEntered")]
                for key in ("output", "execution_arn"):
                    job.pop(key, None)
                row[f"{minutes:g}"] = {"snapshot_minutes": minutes, **job}
            rows[kind] = row
    return rows


def table(out: dict[str, Any]) -> str:
    lines = ["| type | snapshot | AWS calls (handlers + Step Functions) | state transitions | Lambda invocations | "
             "before: poll loop (calls / transitions / invocations) |", "|---|---|---|---|---|---|"]
    for kind, row in out["jobs"].items():
        for minutes, job in row.items():
            was = out["before"].get(kind, {}).get(minutes)
            was_text = f"{was['api_calls']} / {was['state_transitions']} / {was['lambda_invocations']}" if was else "—"
            lines.append(f"| {kind} | {minutes} min | {job['api_calls']} ({job['api_calls_by_handlers']} + "
                         f"{job['api_calls_by_step_functions']}) | {job['state_transitions']} | "
                         f"{job['lambda_invocations']} | {was_text} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, action="append", help="simulated snapshot minutes (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    import logging

    logging.getLogger("moto").setLevel(logging.CRITICAL)
    minutes_list = args.minutes or [10.0, 60.0]
    started = time.perf_counter()
    jobs = native_jobs(minutes_list)
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    per_type = previous.get("per_type", {})
    out = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "wall_seconds": round(time.perf_counter() - started, 1),
           "before_from": {"per_type": previous.get("date"), "poll_seconds": POLL_SECONDS, "per_poll": PER_POLL},
           "jobs": jobs,
           "before": {kind: {m: b for m in row if (b := before(per_type, kind, float(m))) is not None}
                      for kind, row in jobs.items()}}
    merged = json.loads(args.out.read_text()) if args.out.exists() else {}
    merged["native_jobs"] = out
    args.out.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    print(table(out))
    print(f"\nwritten to {args.out} (native_jobs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
