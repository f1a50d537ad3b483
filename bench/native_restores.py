"""Native restore jobs whose target takes simulated minutes: what one restore costs waiting on AWS's creation event
(after) and polling (before), and that the event path does not grow with the minutes.

    .venv/bin/python bench/native_restores.py                 # EBS, RDS, Aurora, DocumentDB, Neptune; 10 and 60 min
    .venv/bin/python bench/native_restores.py --types EBS --minutes 10

moto makes a volume or a database at once; the twin can make a restore's target take simulated minutes
(coffer_twin.native_durations: ``ec2:CreateVolume``, ``rds:RestoreDBInstanceFromDBSnapshot``,
``rds:RestoreDBClusterFromSnapshot``). Each restore is measured as bench/run.py measures a job (``run.measure``: AWS
calls at botocore's ``before-send`` by the handlers and by Step Functions, the execution's ``*StateEntered`` events,
Lambda invocations; the bench's own calls are not counted). Both paths are measured on the same twin, from
recovery points of the same kind:

- after: the Restore workflow as it is - the start's one look, the park in WaitForRestoreEvent, AWS's end event
  through ResumeNative, CheckRestore's own look. The bench waits until the workflow has parked (its waiter record
  holds the task token), lets the minutes pass, and waits for the end; the ResumeNative invocation the event sets
  off is counted with the job.
- before: the poll loop this replaced, run for real - ``RestoreJobs._waits_on_events`` answers False in this process
  (the twin runs the handlers in it), so the start answers "native" and the workflow polls (WaitForRestore,
  CheckRestore, RestoreReady) every PollSeconds (30). Wait states sleep ``WAIT_SCALE`` of their seconds, and each
  then lets its 30 seconds pass on the twin's simulated clock, so the target is there at the check that follows
  its due time, as on AWS: a 10-minute restore is found by the 20th poll.

Dollars at list prices (bench/prices.json) by bench/cost_model.py's ``price_job``. Results are merged into
bench/results.json under ``native_restores`` (read again just before writing).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers"))
sys.path.insert(0, str(ROOT / "bench"))

#: the twin operation each measured type's restore is
OPERATIONS = {"EBS": "ec2:CreateVolume", "RDS": "rds:RestoreDBInstanceFromDBSnapshot",
              "Aurora": "rds:RestoreDBClusterFromSnapshot", "DocumentDB": "rds:RestoreDBClusterFromSnapshot",
              "Neptune": "rds:RestoreDBClusterFromSnapshot"}
POLL_SECONDS = 30
#: the fraction of a Wait state's seconds it sleeps (the poll loop's 30 s: 0.3 s)
WAIT_SCALE = 0.01


def parked_then(coffer: Any, token: str, minutes: float) -> Callable[[str], None]:
    """`during` of the event path: bench/native.py's, on the restore's waiter (its target's and job's)."""
    from native import parked_then as parked

    from coffer.domain.native_waits import restore_waiter_ref

    return parked(coffer, token, minutes, restore_waiter_ref)


@contextmanager
def waits_pass_simulated_time(coffer: Any) -> Iterator[None]:
    """The poll loop's clock: each Wait state (WaitForRestore), once slept, lets its seconds pass on the twin's
    simulated clock, so the target is there at the check that follows its due time, as on AWS."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    sleep = WaitFunction._eval_body  # compressed by the twin (coffer_twin.waits)

    def wait_body(self: Any, env: Any) -> None:
        sleep(self, env)
        coffer.twin.native.advance(datetime.timedelta(seconds=self._get_wait_seconds(env=env)))

    with mock.patch.object(WaitFunction, "_eval_body", wait_body):
        yield


def native_restores(kinds: list[str], minutes_list: list[float]) -> dict[str, Any]:
    import run

    from coffer.services.restore_jobs import RestoreJobs
    from coffer_cli.local.session import local_twin

    rows: dict[str, Any] = {}
    # PollSeconds as deployed (the local twin's default is 1 s)
    with local_twin(ROOT, parameters={"PollSeconds": str(POLL_SECONDS)}, wait_scale=WAIT_SCALE) as coffer:
        # one-time work of a session (first records of their kind): an unmeasured backup and restore of a volume
        warm_arn, _, _ = run._ebs(coffer, 900)
        warm = coffer.twin.wait(coffer.twin.put_event("coffer", "StartBackupJob", {
            "ResourceArn": warm_arn, "IdempotencyToken": "native-restore-warm-up"})[0], timeout=600)
        coffer.twin.wait(coffer.twin.put_event("coffer", "StartRestoreJob", {
            "RecoveryPointArn": coffer.deps.catalog.get_job(warm["output"]["job_id"]).recovery_point_id,
            "IdempotencyToken": "native-restore-warm-up-restore", "Metadata": {}}, bus=coffer.request_bus)[0],
            timeout=600)
        coffer.twin.wait_for_async()
        waits_on_events = RestoreJobs.__dict__["_waits_on_events"]
        for n, kind in enumerate(kinds):
            row: dict[str, Any] = {}
            for path in ("after", "before"):
                for minutes in minutes_list:
                    label = f"{kind}-{path}-{minutes:g}"
                    arn, data, metadata = run.TYPES[kind](coffer, 300 + 40 * n + int(minutes) + (0 if path == "after"
                                                                                                 else 20))
                    backup = coffer.twin.wait(coffer.twin.put_event("coffer", "StartBackupJob", {
                        "ResourceArn": arn, "IdempotencyToken": f"native-restore-{label}-backup"})[0], timeout=600)
                    rp_id = coffer.deps.catalog.get_job(backup["output"]["job_id"]).recovery_point_id
                    coffer.twin.wait_for_async()
                    token = f"native-restore-{label}"
                    coffer.twin.native.set(OPERATIONS[kind], minutes=minutes)
                    request = {"RecoveryPointArn": rp_id, "IdempotencyToken": token, "Metadata": metadata}
                    try:
                        if path == "after":
                            job = run.measure(coffer, "StartRestoreJob", request, data,
                                              during=parked_then(coffer, token, minutes))
                        else:
                            RestoreJobs._waits_on_events = staticmethod(  # type: ignore[method-assign]
                                lambda job: False)
                            with waits_pass_simulated_time(coffer):
                                job = run.measure(coffer, "StartRestoreJob", request, data)
                    finally:
                        RestoreJobs._waits_on_events = waits_on_events  # type: ignore[method-assign]
                        coffer.twin.native.reset()
                    coffer.twin.wait_for_async()
                    entered = [e["stateEnteredEventDetails"]["name"] for e in coffer.twin.history(
                        job["execution_arn"]) if e["type"].endswith("StateEntered")]
                    job["polls"] = entered.count("CheckRestore") if path == "before" else 0
                    # the path in order; the poll loop's (hundreds of states) as how often each was entered
                    job["states"] = entered if path == "after" else dict(Counter(entered))
                    for key in ("output", "execution_arn"):
                        job.pop(key, None)
                    row.setdefault(path, {})[f"{minutes:g}"] = {"restore_minutes": minutes, **job}
            rows[kind] = row
    return rows


def priced(rows: dict[str, Any]) -> None:
    """Each measured restore's dollars at list prices (bench/cost_model.py)."""
    from cost_model import Assumptions, price_job

    prices = json.loads((ROOT / "bench" / "prices.json").read_text())
    for row in rows.values():
        for path in row.values():
            for job in path.values():
                job["dollars"] = round(price_job(job, prices, Assumptions()).total, 7)


def table(rows: dict[str, Any]) -> str:
    lines = ["| type | restore | AWS calls before → after | state transitions before → after | "
             "Lambda invocations before → after | $ a job before → after |", "|---|---|---|---|---|---|"]
    for kind, row in rows.items():
        for minutes, after in row["after"].items():
            was = row["before"][minutes]
            lines.append(f"| {kind} | {minutes} min | {was['api_calls']} → {after['api_calls']} | "
                         f"{was['state_transitions']} → {after['state_transitions']} | "
                         f"{was['lambda_invocations']} → {after['lambda_invocations']} | "
                         f"{was['dollars']:.6f} → {after['dollars']:.6f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, action="append", help="simulated restore minutes (repeatable)")
    parser.add_argument("--types", default=",".join(OPERATIONS), help="comma-separated: " + ", ".join(OPERATIONS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    import logging

    logging.getLogger("moto").setLevel(logging.CRITICAL)
    kinds = [k for k in args.types.split(",") if k]
    unknown = sorted(set(kinds) - set(OPERATIONS))
    if unknown:
        parser.error(f"--types: {', '.join(unknown)} not one of {', '.join(OPERATIONS)}")
    minutes_list = args.minutes or [10.0, 60.0]
    started = time.perf_counter()
    rows = native_restores(kinds, minutes_list)
    priced(rows)
    out = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "wall_seconds": round(time.perf_counter() - started, 1), "poll_seconds": POLL_SECONDS,
           "wait_scale": WAIT_SCALE, "jobs": rows}
    merged = json.loads(args.out.read_text()) if args.out.exists() else {}
    merged["native_restores"] = out
    args.out.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    print(table(rows))
    print(f"\nwritten to {args.out} (native_restores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
