"""The monthly bill of a reference estate in Coffer's own requests, beside AWS Backup's, from measured counts.

    .venv/bin/python bench/cost_model.py               # the reference estate; prints a table, merges `cost_model`
    .venv/bin/python bench/cost_model.py --objects 100000 --objects 1000000

Nothing here is measured anew: the counts come from bench/results.json (bench/run.py's per-type jobs and
bench/scale.py's S3 runs: API calls by operation, state transitions, Lambda invocations), the prices from
bench/prices.json (dated, each with its source), the poll interval from template.yaml's PollSeconds and the states
of a native job's poll loop from statemachines/backup.asl.json. Re-run bench/run.py and bench/scale.py after a
change to a hot path, then this, and the table follows.

The reference estate (issue "Cheaper than AWS Backup"): 10 S3 buckets of 1 million objects with 1 % of them
changing a day, 150 EBS volumes and RDS instances, 40 DynamoDB tables, one backup a day kept 35 days.

How a job's counts become dollars (approximations, each named):
- S3: List*, Put*, Copy*, Create*, Upload*, Complete*, Restore* are PUT-class requests; Delete* are free; every
  other S3 operation (Get*, Head*) is GET-class.
- DynamoDB on demand, items under 1 KB: BatchWriteItem 25 write units (a full batch), TransactWriteItems 4 (two
  items, transactions cost double), PutItem/UpdateItem/DeleteItem 1; BatchGetItem 100 read units (a full batch,
  consistent), GetItem 1. Where the bench measured them, a Query or Scan by its answers' bytes
  (`read_units_by_operation`: a unit per 4 KB of each answer, at least one) and a BatchWriteItem by its requests
  (`write_units_by_operation`: a unit per KB of each put item's JSON, one per delete). The rest are calls, not
  items (a part-full batch priced as a full one), and JSON is larger than the items it carries: this errs high.
- Lambda: each invocation 100 ms plus 25 ms per AWS call it makes, one after another, plus 10 s per GB of object
  bytes it reads (the small new objects CopyBatch hashes, HashInLambdaMaxBytes), at the template's memory (512 MB) on
  Arm. The twin does not time Lambda, so this is the model's one guess; it is a small part of the bill.
- Step Functions Standard: every state transition (the twin counts them; a Distributed Map child counts one).
- Native jobs: EBS and RDS backups wait on AWS's completion event (issue 16), so a job costs what bench/native.py
  counted with a simulated snapshot (`native_jobs`, the nearest duration measured), whatever `--snapshot-minutes`
  says; DynamoDB's job as bench/native.py ran it (its backup is available at once: the first look finds it). A type
  without such a measure is priced as before: bench/run.py's instant job plus, every PollSeconds of
  `--snapshot-minutes`, one more turn of the poll loop (its states counted from the ASL), each one invocation,
  its states' transitions and one catalog read.
- S3 scale runs are priced per object and multiplied out: the average day of the `--mode days` run (weeks of
  daily backups on a simulated clock: lock extensions, tag refreshes and tag events counted as they happened) for
  each day of the month, the first (full) run as a one-off. (An older record without days: its 1 %-changed run.)
  What grows with the objects is scaled to the estate's bucket: the calls of the batch and listing steps and of
  S3's events; a job's own calls (start, complete, notices, audit: `fixed_calls_by_operation`) stay as counted.
  The measured change rate must be the estate's. The 1 %-changed run is the day after the first: with blobs
  locked ahead (template.yaml's LockSlackDays) it extends no lock, so the model adds what a month of days does on
  average - each unchanged object's lock extended once per LockSlackDays + 1 days (a
  PutObjectRetention and its index record) - where the run counted fewer.
- Storage: Coffer's vault is content-addressed S3 Standard: each bucket's bytes once, plus the changed objects'
  old bytes for the retention period and for as long again as a churned blob's lock outlasts its last recovery
  point's need (`churned_lock_excess_days`: at most LockSlackDays, on average less - the lock was set on the blob's
  last extension day, not on the day its object changed), plus each retained recovery point's manifest (about 300
  bytes an entry).
  AWS Backup's S3 backups: the same bytes at its warm-storage price, each object billed at least 128 KB, plus the
  source-bucket requests a backup makes (a LIST per 1,000 objects, a GET per changed object). Snapshot storage
  (EBS, RDS, DynamoDB) is the same for both and left out.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KIB = 1024
GB = 1024 ** 3


@dataclass(frozen=True)
class Estate:
    buckets: int = 10
    objects_per_bucket: int = 1_000_000
    change_rate: float = 0.01
    object_kib: float = 128.0
    native: dict[str, int] = field(default_factory=lambda: {"EBS": 75, "RDS": 75, "DynamoDB": 40})
    backups_per_month: int = 30
    retention_days: int = 35
    manifest_entry_bytes: int = 300
    snapshot_minutes: float = 10.0


@dataclass(frozen=True)
class Assumptions:
    lambda_ms_per_invocation: float = 100.0
    lambda_ms_per_call: float = 25.0
    #: seconds a handler spends per GB of object bytes it reads (small new objects hashed in CopyBatch): 100 MB/s
    lambda_seconds_per_gb_read: float = 10.0
    lambda_memory_gb: float = 0.5
    catalog_reads_per_poll: int = 1


@dataclass
class Bill:
    """Dollars by what they pay for; `total` is their sum."""

    s3_put: float = 0.0
    s3_get: float = 0.0
    dynamodb: float = 0.0
    step_functions: float = 0.0
    lambda_: float = 0.0
    kms: float = 0.0
    events: float = 0.0
    storage: float = 0.0

    def add(self, other: Bill, times: float = 1.0) -> Bill:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value * times)
        return self

    @property
    def total(self) -> float:
        return sum(asdict(self).values())

    def rounded(self) -> dict[str, float]:
        return {**{k.rstrip("_"): round(v, 2) for k, v in asdict(self).items()}, "total": round(self.total, 2)}


_S3_PUT_CLASS = ("List", "Put", "Copy", "Create", "Upload", "Complete", "Restore")
_DYNAMODB_WRITE_UNITS = {"BatchWriteItem": 25, "TransactWriteItems": 4, "PutItem": 1, "UpdateItem": 1, "DeleteItem": 1}
_DYNAMODB_READ_UNITS = {"BatchGetItem": 100, "GetItem": 1, "Query": 1, "Scan": 1, "TransactGetItems": 2}


def price_job(record: dict[str, Any], prices: dict[str, Any], assume: Assumptions) -> Bill:
    """One measured job (or run): its calls by operation, transitions and invocations, in dollars."""
    bill = Bill()
    measured_units = record.get("read_units_by_operation", {})
    measured_writes = record.get("write_units_by_operation", {})
    for operation, count in record.get("calls_by_operation", {}).items():
        service, name = operation.split(".", 1)
        if service == "s3":
            if name.startswith("Delete"):
                continue
            if name.startswith(_S3_PUT_CLASS):
                bill.s3_put += count * prices["s3"]["put_class_per_1000"] / 1000
            else:
                bill.s3_get += count * prices["s3"]["get_class_per_1000"] / 1000
        elif service == "dynamodb":
            wru = measured_writes.get(operation, _DYNAMODB_WRITE_UNITS.get(name, 0) * count)
            rru = measured_units.get(operation, _DYNAMODB_READ_UNITS.get(name, 0) * count)
            bill.dynamodb += (wru * prices["dynamodb"]["write_request_unit_per_million"]
                              + rru * prices["dynamodb"]["read_request_unit_per_million"]) / 1e6
        elif service == "kms":
            bill.kms += count * prices["kms"]["request_per_10000"] / 10_000
        elif service in ("events", "eventbridge") and name == "PutEvents":
            bill.events += count * prices["eventbridge"]["custom_event_per_million"] / 1e6
        # lambda.Invoke is priced below from the invocations; EC2, RDS, STS, CloudFormation and Step Functions'
        # own API calls are free.
    transition = prices["step_functions"]["state_transition_per_1000"] / 1000
    bill.step_functions += record.get("state_transitions", 0) * transition
    invocations = record.get("lambda_invocations", 0)
    handler_calls = record.get("api_calls_by_handlers", record.get("api_calls", 0))
    seconds = (invocations * assume.lambda_ms_per_invocation + handler_calls * assume.lambda_ms_per_call) / 1000 \
        + record.get("data_bytes_through_lambda", 0) / GB * assume.lambda_seconds_per_gb_read
    bill.lambda_ += (invocations * prices["lambda"]["request_per_million"] / 1e6
                     + seconds * assume.lambda_memory_gb * prices["lambda"]["gb_second_arm64"])
    return bill


def poll_loop_states(asl: dict[str, Any], wait_state: str = "WaitForBackup") -> int:
    """How many states one turn of a native job's poll loop enters: follow Next (and a Choice's way back) from the
    Wait state until it comes round again."""
    states = asl["States"]
    seen: list[str] = []
    name = wait_state
    while name not in seen:
        seen.append(name)
        state = states[name]
        if state["Type"] == "Choice":
            back = [c["Next"] for c in state.get("Choices", []) if c["Next"] in seen] + \
                   ([state["Default"]] if state.get("Default") in seen else [])
            if not back:
                raise ValueError(f"{name}: no way back to {wait_state}")
            name = back[0]
        else:
            name = state["Next"]
    return len(seen)


def template_default(template: Path, parameter: str) -> int:
    from coffer_twin.cfn_yaml import load_template  # the twin's loader understands CloudFormation's short tags

    return int(load_template(template)["Parameters"][parameter]["Default"])


def amortised_extensions(run: dict[str, Any], objects: int, change_rate: float, slack_days: int) -> dict[str, Any]:
    """The lock extensions an average day adds to a measured day-after run (see the module doc): a record to price."""
    unchanged = objects * (1 - change_rate)
    counted = run.get("calls_by_operation", {}).get("s3.PutObjectRetention", 0)
    missing = max(0.0, unchanged / (slack_days + 1) - counted)
    return {"calls_by_operation": {"s3.PutObjectRetention": missing, "dynamodb.BatchWriteItem": missing / 25},
            "api_calls_by_handlers": missing}


def measured_native_job(results: dict[str, Any], kind: str, minutes: float) -> dict[str, Any] | None:
    """bench/native.py's job of `kind` whose snapshot took `minutes` simulated minutes (or, as its cost does not
    depend on them, the one measured nearest); DynamoDB's row is its one job (no duration applies). None: not
    measured."""
    rows = results.get("native_jobs", {}).get("jobs", {}).get(kind)
    if not rows:
        return None
    nearest = min(rows, key=lambda m: abs(float(m) - minutes))
    job: dict[str, Any] = rows[nearest]
    return job if job.get("job_state") == "COMPLETED" else None


def native_month(results: dict[str, Any], estate: Estate, prices: dict[str, Any], assume: Assumptions,
                 poll_seconds: int, poll_states: int) -> tuple[Bill, dict[str, Any]]:
    """A month of native backups. A type bench/native.py measured with a simulated snapshot is priced from that job
    as counted (the wait on AWS's event costs the same whatever the snapshot's duration); any other from
    bench/run.py's instant job plus a poll-loop turn every PollSeconds of `estate.snapshot_minutes`."""
    polls = math.ceil(estate.snapshot_minutes * 60 / poll_seconds) if estate.snapshot_minutes else 0
    per_poll = {"state_transitions": poll_states, "lambda_invocations": 1, "api_calls_by_handlers": 1 + 1,
                "calls_by_operation": {"dynamodb.GetItem": assume.catalog_reads_per_poll}}
    bill, detail = Bill(), {}
    for kind, count in estate.native.items():
        waited = measured_native_job(results, kind, estate.snapshot_minutes)
        if waited is not None:
            job = price_job(waited, prices, assume)
            bill.add(job, count * estate.backups_per_month)
            detail[kind] = {"resources": count, "per_job_dollars": round(job.total, 6), "polls_per_job": 0,
                            "counted_from": f"native_jobs ({waited.get('snapshot_minutes', 0):g}-minute snapshot)",
                            "transitions_per_job": waited.get("state_transitions", 0),
                            "calls_per_job": waited.get("api_calls", 0),
                            "invocations_per_job": waited.get("lambda_invocations", 0)}
            continue
        measured = results["per_type"][kind]["backup"]
        job = price_job(measured, prices, assume).add(price_job(per_poll, prices, assume), polls)
        bill.add(job, count * estate.backups_per_month)
        detail[kind] = {"resources": count, "per_job_dollars": round(job.total, 6), "polls_per_job": polls,
                        "counted_from": "per_type + the poll loop",
                        "transitions_per_job": measured.get("state_transitions", 0) + polls * poll_states,
                        "calls_per_job": measured.get("api_calls", 0) + polls * 2,
                        "invocations_per_job": measured.get("lambda_invocations", 0) + polls}
    return bill, detail


#: the S3 backup's functions whose invocations (one state transition each) grow with the objects; the others run once
#: a job. S3's events (RecordObjectChange, invoked by EventBridge: no transition) grow with the objects too.
_PER_OBJECT_FUNCTIONS = ("CopyBatchFunction", "ListBatchesFunction")
_PER_OBJECT_EVENTS = ("RecordObjectChangeFunction",)


def scaled_run(run: dict[str, Any], factor: float) -> dict[str, Any]:
    """A measured S3 run as it would be with `factor` times the objects: the calls, invocations and transitions of
    the batch and listing steps (and of S3's events) grow with the objects; a job's own (start, complete, notices)
    do not."""
    by_function = run.get("invocations_by_function", {})
    growing = sum(by_function.get(name, 0) for name in _PER_OBJECT_FUNCTIONS)
    events = sum(by_function.get(name, 0) for name in _PER_OBJECT_EVENTS)
    # the calls made once a job (bench/scale.py counts them apart: start, complete, notices, audit) stay as counted;
    # the rest - the batches', the listing's, S3's events' - grow with the objects (an older record: all of them)
    fixed = run.get("fixed_calls_by_operation", {})
    calls = {op: min(n, fixed.get(op, 0)) + max(0.0, n - fixed.get(op, 0)) * factor
             for op, n in run.get("calls_by_operation", {}).items()}
    grown = sum(calls.values()) - sum(run.get("calls_by_operation", {}).values())
    return {"calls_by_operation": calls,
            "read_units_by_operation": {op: n * factor for op, n in run.get("read_units_by_operation", {}).items()},
            "write_units_by_operation": {op: n * factor for op, n in run.get("write_units_by_operation", {}).items()},
            "data_bytes_through_lambda": run.get("data_bytes_through_lambda", 0) * factor,
            "api_calls_by_handlers": run.get("api_calls_by_handlers", 0) + grown,
            "lambda_invocations": run.get("lambda_invocations", 0) + (growing + events) * (factor - 1),
            "state_transitions": run.get("state_transitions", 0) - growing + growing * factor}


def average_day(scale: dict[str, Any]) -> dict[str, Any]:
    """The average day of a `bench/scale.py --mode days` run (its days' calls, the lock extensions and tag refreshes
    they made included), as a run record; plus what S3's events cost while the bucket sends them to EventBridge:
    RecordObjectChange invoked once per tag event (its PutItem counted by the bench) and once per Object Created
    event of a changed object (one GetItem: the bucket is not protected continuously, so the event is ignored)."""
    daily, first = scale["daily"], scale["first"]
    days = int(daily["days"])
    calls = {op: n / days for op, n in daily["calls_by_operation"].items()}
    events = {op: n / days for op, n in daily.get("tag_event_calls", {}).items() if not op.startswith("s3.")}
    changed = daily["new_objects"] / days
    calls["dynamodb.GetItem"] = calls.get("dynamodb.GetItem", 0) + changed
    for op, n in events.items():
        calls[op] = calls.get(op, 0) + n
    invocations = int(first.get("lambda_invocations", 0)) + scale.get("tag_changes_a_day", 0) + changed
    transitions = sum(d["state_transitions"] for d in daily["per_day"]) / days
    units = {op: n / days for op, n in daily.get("read_units_by_operation", {}).items()}
    fixed = {op: n / days for op, n in daily.get("fixed_calls_by_operation", {}).items()}
    writes = {op: n / days for op, n in daily.get("write_units_by_operation", {}).items()}
    return {"calls_by_operation": calls, "fixed_calls_by_operation": fixed, "read_units_by_operation": units,
            "write_units_by_operation": writes,
            "data_bytes_through_lambda": daily.get("data_bytes_through_lambda", 0) / days,
            "api_calls_by_handlers": sum(calls.values()),
            "lambda_invocations": invocations, "state_transitions": transitions,
            "invocations_by_function": {**first.get("invocations_by_function", {}),
                                        "RecordObjectChangeFunction": scale.get("tag_changes_a_day", 0) + changed}}


def churned_lock_excess_days(slack_days: int, change_rate: float) -> float:
    """How many days, on average, a blob stays locked after its object changed beyond what its last recovery point
    needs: the lock was set on the blob's last extension day d (its creation or one of its rolling days, every
    `slack_days` days at a phase of its own, services/object_batches.py `_secured`) to d + retention + slack, and
    the object's last backup of that content came L >= d days later, so it outlasts the need by slack - (L - d).
    Averaged over the phase (uniform) and the content's lifetime (a change each day with probability
    `change_rate`, as the estate's)."""
    if slack_days <= 0:
        return 0.0
    p, expected = change_rate, 0.0
    for last_backup in range(slack_days):  # a content backed up on days 0 .. last_backup, changed the day after
        chance = p * (1 - p) ** last_backup
        total = 0
        for phase in range(slack_days):
            first = phase or slack_days  # its first rolling day after day 0
            last_set = 0 if first > last_backup else first + (last_backup - first) // slack_days * slack_days
            total += last_set + slack_days - last_backup
        expected += chance * total / slack_days
    # a content that lived slack_days or more: over the phases, the days since its last extension are 0 .. slack - 1
    # once each, so its lock outlasts the need by (slack + 1) / 2 on average
    return expected + (1 - p) ** slack_days * (slack_days + 1) / 2


def s3_month(scale: dict[str, Any], estate: Estate, prices: dict[str, Any], assume: Assumptions,
             objects_per_bucket: int, slack_days: int = 0) -> tuple[Bill, Bill, Bill, Bill]:
    """(Coffer's month, Coffer's one-off first backup, AWS Backup's month, AWS Backup's first backup) for the S3
    part of the estate with `objects_per_bucket` objects a bucket."""
    measured = int(scale["objects"])
    factor = objects_per_bucket / measured
    if "daily" in scale:  # measured over weeks of days: extensions and tag refreshes are in the counts
        daily = price_job(scaled_run(average_day(scale), factor), prices, assume)
    else:
        changed = scale["one_percent_changed"]
        extensions = amortised_extensions(changed, measured, estate.change_rate, slack_days)
        daily = price_job(scaled_run(changed, factor), prices, assume).add(
            price_job(scaled_run(extensions, factor), prices, assume))
    first = price_job(scaled_run(scale["first"], factor), prices, assume)
    coffer = Bill().add(daily, estate.buckets * estate.backups_per_month)
    coffer_first = Bill().add(first, estate.buckets)
    objects = objects_per_bucket * estate.buckets
    kept = 1 + estate.change_rate * estate.retention_days
    # Coffer's churned blobs stay locked (and stored) past their last recovery point: up to LockSlackDays, on average
    # churned_lock_excess_days
    coffer_kept = kept + estate.change_rate * churned_lock_excess_days(slack_days, estate.change_rate)
    coffer.storage = (objects * estate.object_kib * KIB * coffer_kept
                      + objects * estate.manifest_entry_bytes * estate.retention_days) / GB \
        * prices["s3"]["standard_gb_month"]
    billable_kib = max(estate.object_kib, prices["backup"]["s3_minimum_billable_object_kib"])
    aws = Bill(storage=objects * billable_kib * KIB * kept / GB * prices["backup"]["s3_warm_gb_month"])
    lists = math.ceil(objects_per_bucket / 1000) * estate.buckets
    aws.s3_put = lists * estate.backups_per_month * prices["s3"]["put_class_per_1000"] / 1000
    aws.s3_get = objects * estate.change_rate * estate.backups_per_month * prices["s3"]["get_class_per_1000"] / 1000
    aws_first = Bill(s3_put=lists * prices["s3"]["put_class_per_1000"] / 1000,
                     s3_get=objects * prices["s3"]["get_class_per_1000"] / 1000)
    return coffer, coffer_first, aws, aws_first


def slack_arithmetic(estate: Estate, prices: dict[str, Any], assume: Assumptions,
                     candidates: tuple[int, ...] = (0, 7, 14, 30, 45, 60, 80, 100, 150)) -> dict[str, Any]:
    """LockSlackDays priced: a blob is extended once per S days (one PutObjectRetention on its pinned version, its
    index record and the Lambda time of one call), and each churned blob (its object changed or deleted) stays stored
    `churned_lock_excess_days(S)` days longer than its recovery points need (at most S). Dollars per object per day:
    renewal / S + change_rate * excess(S) * size * price."""
    renewal = (prices["s3"]["put_class_per_1000"] / 1000
               + prices["dynamodb"]["write_request_unit_per_million"] / 1e6
               + assume.lambda_ms_per_call / 1000 * assume.lambda_memory_gb * prices["lambda"]["gb_second_arm64"])
    held_per_day = estate.object_kib * KIB / GB * prices["s3"]["standard_gb_month"] / 30.4

    def per_day(s: int) -> float:
        return renewal / max(s, 1) + estate.change_rate * churned_lock_excess_days(s, estate.change_rate) \
            * held_per_day

    per_object_day = {s: per_day(s) for s in candidates}
    best = min(range(1, 241), key=per_day)
    objects = estate.buckets * estate.objects_per_bucket
    return {"renewal_dollars": renewal, "churned_blob_dollars_per_day": held_per_day,
            "churned_lock_excess_days": {str(s): round(churned_lock_excess_days(s, estate.change_rate), 1)
                                         for s in candidates},
            "dollars_per_object_day": {str(s): round(v, 12) for s, v in per_object_day.items()},
            "dollars_per_month_estate": {str(s): round(v * objects * 30, 2) for s, v in per_object_day.items()},
            "calls_per_object_day": {str(s): round(1 / max(s, 1), 4) for s in candidates},
            "cheapest_slack_days": best}


def model(results: dict[str, Any], prices: dict[str, Any], estate: Estate, assume: Assumptions,
          poll_seconds: int, poll_states: int, sizes: list[int], slack_days: int = 0) -> dict[str, Any]:
    scale = results["scale"]
    if "daily" in scale:
        changed = average_day(scale)
        measured_rate = scale["daily"]["new_objects"] / scale["daily"]["days"] / max(1, int(scale["objects"]))
    else:
        changed = scale["one_percent_changed"]
        measured_rate = int(changed.get("objects_copied", 0)) / max(1, int(scale["objects"]))
    if abs(measured_rate - estate.change_rate) > estate.change_rate * 0.05:
        raise SystemExit(f"the scale run changed {measured_rate:.2%} of its objects, the estate "
                         f"{estate.change_rate:.2%}: re-run bench/scale.py")
    native, native_detail = native_month(results, estate, prices, assume, poll_seconds, poll_states)
    by_size = {}
    for size in sizes:
        coffer_s3, coffer_first, aws_s3, aws_first = s3_month(scale, estate, prices, assume, size, slack_days)
        coffer = Bill().add(coffer_s3).add(native)
        if "daily" in scale:
            calls = changed["api_calls_by_handlers"] / int(scale["objects"])
        else:
            extra = amortised_extensions(changed, int(scale["objects"]), estate.change_rate, slack_days)
            calls = (changed["api_calls"] + extra["api_calls_by_handlers"]
                     + extra["calls_by_operation"]["dynamodb.BatchWriteItem"]) / int(scale["objects"])
        by_size[str(size)] = {
            "coffer_month": coffer.rounded(), "coffer_s3_month": coffer_s3.rounded(), "coffer_native_month":
            native.rounded(), "coffer_first_backup_once": coffer_first.rounded(), "aws_backup_month": aws_s3.rounded(),
            "aws_backup_first_backup_once": aws_first.rounded(),
            "s3_calls_per_object_per_daily_backup": round(calls, 3),
            "ratio_coffer_to_aws_backup": round(coffer.total / aws_s3.total, 2) if aws_s3.total else None,
        }
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "prices": prices["date"],
            "counts_from": {"scale": scale.get("date"), "per_type": results.get("date")},
            "estate": asdict(estate), "assumptions": asdict(assume), "poll_seconds": poll_seconds,
            "lock_slack_days": slack_days, "scale_objects": int(scale["objects"]),
            "poll_loop_states": poll_states, "native": native_detail, "by_objects_per_bucket": by_size,
            "lock_slack": slack_arithmetic(estate, prices, assume)}


def _table(out: dict[str, Any]) -> str:
    lines = ["objects/bucket  coffer $/month (S3 req | S3 storage | native)  aws backup $/month  ratio  "
             "S3 calls/object/day"]
    for size, row in out["by_objects_per_bucket"].items():
        s3, native = row["coffer_s3_month"], row["coffer_native_month"]
        lines.append(f"{int(size):>14,}  {row['coffer_month']['total']:>12,.2f} "
                     f"({s3['total'] - s3['storage']:,.2f} | {s3['storage']:,.2f} | {native['total']:,.2f})"
                     f"  {row['aws_backup_month']['total']:>18,.2f}  {row['ratio_coffer_to_aws_backup']:>5}"
                     f"  {row['s3_calls_per_object_per_daily_backup']:>8}")
    for kind, detail in out["native"].items():
        lines.append(f"native {kind}: {detail['resources']} x 30 jobs, {detail['calls_per_job']} calls and "
                     f"{detail['transitions_per_job']} transitions a job ({detail['polls_per_job']} polls; "
                     f"{detail.get('counted_from', '')}), ${detail['per_job_dollars']:.6f} a job")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--prices", type=Path, default=ROOT / "bench" / "prices.json")
    parser.add_argument("--objects", type=int, action="append", help="objects per bucket (repeatable)")
    parser.add_argument("--snapshot-minutes", type=float, default=Estate.snapshot_minutes)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/results.json as it is")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    prices = json.loads(args.prices.read_text())
    estate = Estate(snapshot_minutes=args.snapshot_minutes)
    asl = json.loads((ROOT / "statemachines" / "backup.asl.json").read_text())
    template = ROOT / "template.yaml"
    out = model(results, prices, estate, Assumptions(), template_default(template, "PollSeconds"),
                poll_loop_states(asl), args.objects or [100_000, 1_000_000],
                template_default(template, "LockSlackDays"))
    print(_table(out))
    if not args.no_write:
        merged = json.loads(args.results.read_text())
        merged["cost_model"] = out
        args.results.write_text(json.dumps(merged, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
