"""Coffer at scale on the embedded twin (issue 10): an S3 backup of a large bucket, again with 1 % of it changed,
and a plan run over a fleet of resources. Each mode runs in its own process (its peak memory is its own).

    .venv/bin/python bench/scale.py                          # both modes: --objects 100000, --resources 10000
    .venv/bin/python bench/scale.py --mode s3 --objects 100000
    .venv/bin/python bench/scale.py --mode plan --resources 10000
    .venv/bin/python bench/scale.py --mode s3 --objects 100000 --listing inventory   # read an S3 Inventory
    .venv/bin/python bench/scale.py --mode days --objects 2000 --days 35   # a backup a day, 1 % changed a day

``--mode days`` (issue 16): a first backup, then one a day for ``--days`` days on a simulated clock, each day
``--changed-percent`` of the objects given new content and ``--tag-changes`` objects re-tagged through S3's API
(their ``Object Tags Added`` events reach RecordObjectChange, which marks the keys), the bucket's EventBridge
notifications on, the template's LockSlackDays and TagRefreshDays (or ``--parameters``). It prints and writes
(key ``scale``; the previous ``scale`` is kept as ``scale_before_objects``): calls per new object by operation
(the first backup), and over the days the calls made for new objects (HeadObject of the source, CopyObject into
the work bucket's staging prefix and into the vault, GetObjectTagging of a new object) apart from everything else
(listing, index, tag reads, lock extensions, the job's own calls), divided by the unchanged object-days.

Per run it prints, and merges into bench/results.json (keys ``scale``, ``scale_inventory`` (``--listing inventory``)
and ``scale_plan``; every other key is kept):
- API calls, every attempt, counted at the twin's one seam (coffer_twin.calls, botocore ``before-send``), split
  into the handlers' calls and Step Functions' own (Lambda invokes, ItemReader, ResultWriter, nested
  executions); the bench's own setup and polling are not counted. Counted as they happen, not kept (a list of
  600,000 recorded calls would be the bench's memory, not Coffer's).
- State transitions: every ``*StateEntered`` event of every program moto runs (parent executions, nested
  Backup executions and Distributed Map children, which moto keeps no execution history for).
- Lambda invocations, and the most objects (S3) or resources (plan) any single invocation handled: S3 - the
  largest copy batch and the most keys one listing invocation wrote into batch files; plan - the most
  resources one selection invocation read and the largest page one claim / settle invocation handled.
- Bytes of object data through Lambda: bodies handlers GET from the source bucket or vault blobs, or PUT to
  them (must be 0: objects are copied server-side).
- Wall time and peak RSS of the process (ru_maxrss: the twin, moto's stores and Coffer in one process; the
  1 %-changed run's figure is the peak over both S3 runs, as the bucket stays in memory).

Progress (calls so far, calls per second) is printed every 30 s, so a run stopped early still gives its rate.
The plan run uses the local twin's compressed waits (coffer_cli.local.session.LOCAL_WAIT_SCALE: Wait states and
Retry intervals sleep a fraction of their seconds; every state is still entered, so transition counts do not
change); the S3 runs have no Wait state on their path.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers"))
sys.path.insert(0, str(ROOT / "bench"))

from plans import TransitionCounter  # noqa: E402 - bench/plans.py's counter of every StateEntered event
from run import _largest_listing  # noqa: E402 - the most keys one ListBatches invocation listed

DATA_IN = {"GetObject"}
BILLED_BY_BYTES = {"Query", "Scan"}
DATA_OUT = {"PutObject", "UploadPart"}
COPY_FUNCTIONS = ("CopyBatchFunction",)


def _log(message: str) -> None:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", flush=True)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Tally:
    """Counts every AWS call attempt as it happens (an observer at coffer_twin.calls' seam), keeping no call."""

    def __init__(self, coffer: Any, data_buckets: set[str]) -> None:
        self._coffer = coffer
        self._data = data_buckets
        self._lock = threading.Lock()
        self.by_caller: Counter[str] = Counter()
        self.by_operation: Counter[str] = Counter()
        #: the calls made once a job whatever its size (bench/cost_model.py keeps them fixed when it scales a run up):
        #: every caller's but the functions whose work grows with the objects, and the engine's Invokes of them
        self.fixed: Counter[str] = Counter()
        #: read units of the DynamoDB calls billed by the bytes they read (Query, Scan): a strongly consistent read
        #: unit per 4 KB of each answer, at least one - the answer's JSON is larger than the items it carries, so
        #: this errs high (bench/cost_model.py prices these instead of one unit a call)
        self.read_units: Counter[str] = Counter()
        #: write units of each BatchWriteItem as its requests are (a put: a unit per KB of its item's JSON, which is
        #: larger than the item stored; a delete: one), not a full batch of 25 a call
        self.write_units: Counter[str] = Counter()
        self.data_bytes = 0
        self.on = False

    def __call__(self, call: Any) -> None:
        from coffer_twin.calls import DRIVER, ENGINE

        if not self.on or call.caller == DRIVER:
            return
        moved = 0
        if call.caller != ENGINE and call.service == "s3" and call.operation in DATA_IN | DATA_OUT:
            bucket, key = call.bucket_and_key
            vault = self._coffer.settings.vault_bucket
            if bucket in self._data or (bucket == vault and "/blobs/" in (key or "")):
                moved = int(call.response_bytes) if call.operation in DATA_IN else int(call.request_bytes)
        with self._lock:
            self.by_caller["engine" if call.caller == ENGINE else "handlers"] += 1
            self.by_operation[f"{call.service}.{call.operation}"] += 1
            if not _grows_with_objects(call):
                self.fixed[f"{call.service}.{call.operation}"] += 1
            if call.service == "dynamodb" and call.operation in BILLED_BY_BYTES:
                self.read_units[f"dynamodb.{call.operation}"] += max(1, -(-int(call.response_bytes) // 4096))
            if call.service == "dynamodb" and call.operation == "BatchWriteItem":
                self.write_units["dynamodb.BatchWriteItem"] += _batch_write_units(call.body)
            self.data_bytes += moved

    def reset(self) -> None:
        with self._lock:
            self.by_caller.clear()
            self.by_operation.clear()
            self.fixed.clear()
            self.read_units.clear()
            self.write_units.clear()
            self.data_bytes = 0

    @property
    def total(self) -> int:
        return sum(self.by_caller.values())


#: the functions whose calls grow with the objects of a bucket (a CopyBatch per batch, a listing step per pages)
GROWING_FUNCTIONS = frozenset({"CopyBatchFunction", "ListBatchesFunction", "RecordObjectChangeFunction"})


def _grows_with_objects(call: Any) -> bool:
    """Whether a call is made per object or per batch (not once a job): a growing function's, or the engine's Invoke
    of one (its URL names the function)."""
    from coffer_twin.calls import ENGINE

    if call.caller == ENGINE:
        return call.operation == "Invoke" and any(f"-{name}-" in call.url for name in GROWING_FUNCTIONS)
    return str(call.caller) in GROWING_FUNCTIONS


def _batch_write_units(body: bytes) -> int:
    """The write units of one BatchWriteItem request: each put a unit per KB (rounded up) of its item as sent, each
    delete one."""
    try:
        requests = json.loads(body)["RequestItems"]
    except (ValueError, KeyError):
        return 25  # unreadable: priced as a full batch of small items
    units = 0
    for table_requests in requests.values():
        for request in table_requests:
            put = request.get("PutRequest")
            units += max(1, -(-len(json.dumps(put["Item"]).encode()) // 1024)) if put else 1
    return units


class Progress:
    """Prints calls so far and the rate every `every` seconds while a run is going."""

    def __init__(self, tally: Tally, label: str, every: float = 30.0) -> None:
        self._tally, self._label, self._every = tally, label, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.perf_counter()

    def __enter__(self) -> Progress:
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            elapsed = time.perf_counter() - self._started
            calls = self._tally.total
            top = ", ".join(f"{op} {n}" for op, n in self._tally.by_operation.most_common(4))
            _log(f"{self._label}: {elapsed:.0f} s, {calls:,} calls ({calls / elapsed:.0f}/s), "
                 f"RSS peak {_peak_rss_mb()} MB; {top}")


def _measured_run(coffer: Any, tally: Tally, transitions: TransitionCounter, label: str,
                  start: Any) -> dict[str, Any]:
    """Run one workflow (`start()` returns its execution ARN) and count what it did."""
    twin = coffer.twin
    invocations_before = Counter(twin.invocations)
    tally.reset()
    transitions.entered = 0
    tally.on = transitions.on = True
    started = time.perf_counter()
    with Progress(tally, label):
        arn = start()
        result = twin.wait(arn, timeout=6 * 3600)
    wall = time.perf_counter() - started
    tally.on = transitions.on = False
    invocations = Counter(twin.invocations) - invocations_before
    return {
        "status": result["status"],
        "error": result.get("error"),
        "output": result.get("output"),
        "execution_arn": result["arn"],
        "api_calls": tally.total,
        "api_calls_by_handlers": tally.by_caller["handlers"],
        "api_calls_by_step_functions": tally.by_caller["engine"],
        "calls_by_operation": dict(sorted(tally.by_operation.items())),
        "read_units_by_operation": dict(sorted(tally.read_units.items())),
        "write_units_by_operation": dict(sorted(tally.write_units.items())),
        "fixed_calls_by_operation": dict(sorted(tally.fixed.items())),
        "state_transitions": transitions.entered,
        "lambda_invocations": sum(invocations.values()),
        "invocations_by_function": dict(sorted(invocations.items())),
        "data_bytes_through_lambda": tally.data_bytes,
        "wall_seconds": round(wall, 1),
    }


# ---- S3: a large bucket, then 1 % changed ------------------------------------------------------------------
def s3_scale(objects: int, changed_percent: float, listing: str, out: Path) -> dict[str, Any]:
    from moto.s3.models import s3_backends

    from coffer_cli.local.session import local_twin
    from coffer_twin.calls import observing

    transitions = TransitionCounter()
    transitions.install()
    results: dict[str, Any] = {"objects": objects, "listing": listing, **machine()}
    with local_twin(ROOT) as coffer:
        bucket = "bench-scale"
        coffer.client("s3").create_bucket(Bucket=bucket)
        backend = s3_backends[coffer.twin.account_id]["global"]
        started = time.perf_counter()
        for k in range(objects):  # straight into moto's store: the bench's setup is not what it measures
            backend.put_object(bucket, _key(k), f"object {k} v1".encode())
        results["setup_seconds"] = round(time.perf_counter() - started, 1)
        _log(f"s3: {objects:,} objects in {results['setup_seconds']} s; peak RSS {_peak_rss_mb()} MB")
        arn = f"arn:aws:s3:::{bucket}"
        tally = Tally(coffer, {bucket})
        with observing(tally):
            for run, token in (("first", "scale-1"), ("one_percent_changed", "scale-2")):
                if run == "one_percent_changed":
                    rng = random.Random(10)
                    for k in rng.sample(range(objects), max(1, int(objects * changed_percent / 100))):
                        backend.put_object(bucket, _key(k), f"object {k} v2".encode())
                if listing == "inventory":
                    _write_inventory(coffer, bucket, objects, token)
                detail = {"ResourceArn": arn, "IdempotencyToken": token}
                measured = _measured_run(coffer, tally, transitions, f"s3 {run}",
                                         lambda detail=detail: coffer.twin.put_event("coffer", "StartBackupJob",
                                                                                     detail)[0])
                output = measured.pop("output") or {}
                job = coffer.deps.catalog.get_job(output["job_id"])
                parts = list(coffer.deps.catalog.list_parts(job.job_id))
                measured["job_state"] = job.state.value
                measured["listing_source"] = getattr(job.progress, "listing_source", None)
                measured["objects_in_recovery_point"] = job.progress.objects
                measured["objects_copied"] = job.progress.objects_copied
                measured["objects_reused"] = job.progress.objects_reused
                measured["largest_batch_objects"] = max(
                    (p["part"]["objects"] + len(p["failed"]) for p in parts), default=0)
                measured["largest_listing_objects"] = _largest_listing(coffer, job.job_id,
                                                                       measured.pop("execution_arn"))
                measured["most_objects_per_invocation"] = max(measured["largest_batch_objects"],
                                                              measured["largest_listing_objects"])
                measured["peak_rss_mb"] = _peak_rss_mb()
                results[run] = measured
                results["peak_rss_mb"] = measured["peak_rss_mb"]
                _log(f"s3 {run}: {_row(measured)}")
                # a run stopped later still leaves this one recorded; an inventory-listed run has its own key
                merge_results(out, {"scale" if listing == "list" else "scale_inventory": results})
    return results


def _key(k: int) -> str:
    return f"data/{k // 1000:04d}/{k:07d}.bin"


def _write_inventory(coffer: Any, bucket: str, objects: int, token: str) -> None:
    """An S3 Inventory of the bucket as S3 would deliver it (moto delivers none): configuration, CSV data
    files and manifest.json, written by the bench (setup, not counted)."""
    from coffer_cli.local.inventory import write_inventory

    write_inventory(coffer.client("s3"), bucket, destination=f"{bucket}-inventory", clock=coffer.clock,
                    rows_per_file=max(1000, objects // 10))


# ---- S3: a backup a day for weeks ---------------------------------------------------------------------------
class DayTally(Tally):
    """A Tally that also sets apart the calls made for new objects (what `_for_new_object` names)."""

    def __init__(self, coffer: Any, data_buckets: set[str], source: str) -> None:
        super().__init__(coffer, data_buckets)
        self._source = source
        self.for_new: Counter[str] = Counter()

    def __call__(self, call: Any) -> None:
        super().__call__(call)
        from coffer_twin.calls import DRIVER, ENGINE

        if self.on and call.caller not in (DRIVER, ENGINE) and self._for_new_object(call):
            with self._lock:
                self.for_new[f"{call.service}.{call.operation}"] += 1

    def _for_new_object(self, call: Any) -> bool:
        if call.service != "s3":
            return False
        bucket, key = call.bucket_and_key
        settings = self._coffer.settings
        if call.operation in ("HeadObject", "GetObject"):  # described (GetObject: read and hashed, small ones)
            return bool(bucket == self._source)
        if call.operation == "CopyObject":
            staging = bucket == settings.work_bucket and (key or "").startswith("staging/")
            # into the vault from the source or from staging; not a re-seal (the vault copied onto itself)
            blob = bucket == settings.vault_bucket and "/blobs/" in (key or "") \
                and settings.vault_bucket not in call.headers.get("x-amz-copy-source", "")
            return bool(staging or blob)
        return False

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.for_new.clear()


def s3_days(objects: int, days: int, changed_percent: float, tag_changes: int, parameters: dict[str, str],
            out: Path) -> dict[str, Any]:
    from moto.s3.models import s3_backends

    from coffer.domain.clock import FixedClock
    from coffer_cli.local.session import local_twin
    from coffer_twin.calls import observing

    transitions = TransitionCounter()
    transitions.install()
    start = datetime.datetime(2026, 9, 1, 1, 0, tzinfo=datetime.UTC)
    clock = FixedClock(start)
    results: dict[str, Any] = {"objects": objects, "listing": "list", "days": days,
                               "changed_percent": changed_percent, "tag_changes_a_day": tag_changes,
                               "parameters": parameters, **machine()}
    with local_twin(ROOT, clock=clock, parameters=parameters) as coffer:
        from coffer_cli.local.session import TWIN_PARAMETERS

        template = _template_defaults()
        results["lock_slack_days"] = int(parameters.get("LockSlackDays", TWIN_PARAMETERS.get(
            "LockSlackDays", template["LockSlackDays"])))
        results["tag_refresh_days"] = int(parameters.get("TagRefreshDays", TWIN_PARAMETERS.get(
            "TagRefreshDays", template["TagRefreshDays"])))
        bucket = "bench-scale"
        s3 = coffer.client("s3")
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_notification_configuration(Bucket=bucket,
                                                 NotificationConfiguration={"EventBridgeConfiguration": {}})
        backend = s3_backends[coffer.twin.account_id]["global"]
        for k in range(objects):  # straight into moto's store (no events): setup, not what is measured
            backend.put_object(bucket, _key(k), f"object {k} v1".encode())
        arn = f"arn:aws:s3:::{bucket}"
        tally = DayTally(coffer, {bucket}, bucket)
        rng = random.Random(16)
        changed = max(1, int(objects * changed_percent / 100))
        totals: Counter[str] = Counter()
        read_units: Counter[str] = Counter()
        write_units: Counter[str] = Counter()
        fixed: Counter[str] = Counter()
        data_bytes = 0
        for_new: Counter[str] = Counter()
        tag_event_calls: Counter[str] = Counter()
        per_day: list[dict[str, Any]] = []
        unchanged_object_days = new_objects = 0
        with observing(tally):
            for day in range(days + 1):
                clock.set(start + datetime.timedelta(days=day))
                if day:
                    for k in rng.sample(range(objects), changed):
                        backend.put_object(bucket, _key(k), f"object {k} v{day + 1}".encode())
                # moto's store sends Object Created events too: RecordObjectChange's handling of them (one GetItem
                # each: the bucket is not protected continuously) is kept out of the backups' counts
                coffer.twin.wait_for_async()
                if day:
                    tally.reset()
                    tally.on = True
                    for k in rng.sample(range(objects), tag_changes):  # through S3: its tag event is sent
                        s3.put_object_tagging(Bucket=bucket, Key=_key(k), Tagging={"TagSet": [
                            {"Key": "day", "Value": str(day)}]})
                    coffer.twin.wait_for_async()
                    tally.on = False
                    tag_event_calls.update(tally.by_operation)
                detail = {"ResourceArn": arn, "IdempotencyToken": f"days-{day}",
                          "Lifecycle": {"DeleteAfterDays": 35}}
                measured = _measured_run(coffer, tally, transitions, f"s3 day {day}",
                                         lambda detail=detail: coffer.twin.put_event("coffer", "StartBackupJob",
                                                                                     detail)[0])
                output = measured.pop("output") or {}
                job = coffer.deps.catalog.get_job(output["job_id"])
                if day == 0:
                    measured["job_state"] = job.state.value
                    measured["objects_copied"] = job.progress.objects_copied
                    measured["calls_for_new_objects"] = dict(sorted(tally.for_new.items()))
                    measured["calls_per_new_object"] = round(sum(tally.for_new.values()) / objects, 3)
                    measured["peak_rss_mb"] = _peak_rss_mb()
                    results["first"] = measured
                    _log(f"s3 day 0: {_row(measured)}; per new object {measured['calls_per_new_object']}")
                    continue
                assert job.state.value == "COMPLETED", (day, job.state, job.status_message)
                totals.update(measured["calls_by_operation"])
                read_units.update(measured["read_units_by_operation"])
                write_units.update(measured["write_units_by_operation"])
                fixed.update(measured["fixed_calls_by_operation"])
                data_bytes += int(measured["data_bytes_through_lambda"])
                for_new.update(tally.for_new)
                new_objects += changed
                unchanged_object_days += objects - changed
                per_day.append({"day": day, "api_calls": measured["api_calls"],
                                "for_new_objects": sum(tally.for_new.values()),
                                "s3.GetObjectTagging": measured["calls_by_operation"].get("s3.GetObjectTagging", 0),
                                "s3.PutObjectRetention": measured["calls_by_operation"].get(
                                    "s3.PutObjectRetention", 0),
                                "state_transitions": measured["state_transitions"],
                                "wall_seconds": measured["wall_seconds"]})
                _log(f"s3 day {day}: {measured['api_calls']} calls, {sum(tally.for_new.values())} for "
                     f"{changed} new objects, {measured['wall_seconds']} s")
        everything_else = Counter(totals)
        everything_else.subtract(for_new)
        results["daily"] = {
            "days": days, "new_objects": new_objects, "unchanged_object_days": unchanged_object_days,
            "api_calls": sum(totals.values()), "calls_by_operation": dict(sorted(totals.items())),
            "read_units_by_operation": dict(sorted(read_units.items())),
            "write_units_by_operation": dict(sorted(write_units.items())),
            "fixed_calls_by_operation": dict(sorted(fixed.items())),
            "data_bytes_through_lambda": data_bytes,
            "calls_for_new_objects": dict(sorted(for_new.items())),
            "calls_per_new_object": round(sum(for_new.values()) / max(1, new_objects), 3),
            "calls_for_unchanged_objects_and_jobs": dict(sorted((k, v) for k, v in everything_else.items() if v)),
            "calls_per_unchanged_object_day": round(sum(everything_else.values()) / unchanged_object_days, 4),
            "tag_event_calls": dict(sorted(tag_event_calls.items())),
            "per_day": per_day,
        }
        results["peak_rss_mb"] = _peak_rss_mb()
        daily = results["daily"]
        _log(f"s3 {days} days: {daily['calls_per_new_object']} calls per new object, "
             f"{daily['calls_per_unchanged_object_day']} calls per unchanged object-day (listing and jobs included)")
        current = json.loads(out.read_text()) if out.exists() else {}
        keep = {} if "scale_before_objects" in current or "scale" not in current else {
            "scale_before_objects": current["scale"]}
        merge_results(out, {"scale": results, **keep})
    return results


def _template_defaults() -> dict[str, str]:
    from coffer_twin.cfn_yaml import load_template

    template = load_template(ROOT / "template.yaml")
    return {name: str(spec.get("Default")) for name, spec in template["Parameters"].items()}


# ---- a plan run over a fleet ----------------------------------------------------------------------------------
def plan_scale(resources: int, out: Path) -> dict[str, Any]:
    from coffer.adapters.catalog.plans import PlanCatalog
    from coffer.domain.clock import FixedClock
    from coffer.domain.plan_runs import run_id_for
    from coffer_cli.commands.plan import read_documents
    from coffer_cli.local.sample_plans import plan_service
    from coffer_cli.local.session import local_twin
    from coffer_twin.calls import observing

    transitions = TransitionCounter()
    transitions.install()
    five = datetime.datetime(2026, 11, 26, 5, 0, tzinfo=datetime.UTC)
    results: dict[str, Any] = {"resources": resources, "resource_type": "DynamoDB", **machine()}
    with local_twin(ROOT, clock=FixedClock(five)) as coffer:
        dynamodb = coffer.client("dynamodb")
        started = time.perf_counter()
        for i in range(resources):
            dynamodb.create_table(TableName=f"fleet-{i:05d}", BillingMode="PAY_PER_REQUEST",
                                  KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                                  AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                                  Tags=[{"Key": "fleet", "Value": "yes"}])
        plan_service(coffer).apply(read_documents([("fleet", {
            "BackupPlan": {"BackupPlanName": "fleet", "Rules": [
                {"RuleName": "daily", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 5 ? * * *)",
                 "StartWindowMinutes": 480, "CompletionWindowMinutes": 1440, "Lifecycle": {"DeleteAfterDays": 7}}]},
            "Selections": [{"SelectionName": "fleet", "Resources": ["arn:aws:dynamodb:*:*:table/fleet-*"],
                            "Conditions": {"StringEquals": [{"ConditionKey": "aws:ResourceTag/fleet",
                                                             "ConditionValue": "yes"}]}}]})]))
        results["setup_seconds"] = round(time.perf_counter() - started, 1)
        _log(f"plan: {resources:,} tables and the plan in {results['setup_seconds']} s")
        tally = Tally(coffer, set())
        run_input = {"plan_name": "fleet", "rule_name": "daily", "scheduled_time": "2026-11-26T05:00:00Z"}
        with observing(tally):
            measured = _measured_run(coffer, tally, transitions, "plan run",
                                     lambda: coffer.twin.start_execution("PlanRunStateMachine", run_input))
        output = measured.pop("output") or {}
        measured.pop("execution_arn")
        measured["counts"] = output.get("counts")
        plans = PlanCatalog(coffer.deps.client_for("dynamodb"), coffer.settings.catalog_table)
        run_id = run_id_for("fleet", "daily", five)
        selects = [doc["counts"]["seen"] for _, doc in plans.list_run_records(run_id, "SELECT")]
        pages = [len(doc["entries"]) for _, doc in plans.list_run_records(run_id, "PAGE")]
        measured["select_invocations"] = len(selects)
        measured["largest_selection_resources"] = max(selects, default=0)
        measured["pages"] = len(pages)
        measured["largest_page_resources"] = max(pages, default=0)
        measured["most_resources_per_invocation"] = max(measured["largest_selection_resources"],
                                                        measured["largest_page_resources"])
        measured["peak_rss_mb"] = _peak_rss_mb()
        results["run"] = measured
        _log(f"plan run: {_row(measured)}; counts {measured['counts']}")
        merge_results(out, {"scale_plan": results})
    return results


# ---- output ---------------------------------------------------------------------------------------------------
def _row(m: dict[str, Any]) -> str:
    most = m.get("most_objects_per_invocation", m.get("most_resources_per_invocation"))
    return (f"{m['status']} {m.get('job_state', '')}, {m['api_calls']:,} calls ({m['api_calls_by_handlers']:,} + "
            f"{m['api_calls_by_step_functions']:,}), {m['state_transitions']:,} transitions, "
            f"{m['lambda_invocations']:,} invocations, most per invocation {most}, "
            f"{m['data_bytes_through_lambda']} bytes through Lambda, {m['wall_seconds']} s, "
            f"peak RSS {m['peak_rss_mb']} MB")


def machine() -> dict[str, Any]:
    return {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.node()} · {platform.machine()} · {os.cpu_count()} CPUs · "
                       f"Python {platform.python_version()} · {platform.platform(terse=True)}",
            "load_average": [round(x, 1) for x in os.getloadavg()]}


def merge_results(out: Path, keys: dict[str, Any]) -> None:
    """Merge `keys` into the results file, keeping every other key (bench/run.py writes the rest)."""
    current: dict[str, Any] = {}
    if out.exists():
        try:
            current = json.loads(out.read_text())
        except ValueError:
            current = {}
    current.update(keys)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(current, indent=2, default=str) + "\n")
    tmp.replace(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mode", choices=["s3", "plan", "days", "all"], default="all")
    parser.add_argument("--days", type=int, default=35, help="--mode days: daily backups after the first")
    parser.add_argument("--tag-changes", type=int, default=5, help="--mode days: objects re-tagged a day")
    parser.add_argument("--parameters", default="", help="--mode days: template parameters, Name=Value,...")
    parser.add_argument("--objects", type=int, default=100_000, help="objects in the S3 runs")
    parser.add_argument("--changed-percent", type=float, default=1.0)
    parser.add_argument("--listing", choices=["list", "inventory"], default="list",
                        help="the S3 runs' listing source: ListObjectsV2, or an S3 Inventory the bench writes")
    parser.add_argument("--resources", type=int, default=10_000, help="resources in the plan run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    import logging

    logging.getLogger("moto").setLevel(logging.CRITICAL)
    if args.mode == "s3":
        s3_scale(args.objects, args.changed_percent, args.listing, args.out)
        return 0
    if args.mode == "plan":
        plan_scale(args.resources, args.out)
        return 0
    if args.mode == "days":
        parameters = dict(p.split("=", 1) for p in args.parameters.split(",") if p)
        s3_days(args.objects, args.days, args.changed_percent, args.tag_changes, parameters, args.out)
        return 0
    failed = 0
    for mode in ("s3", "plan"):  # one process each: each mode's peak memory is its own
        done = subprocess.run([sys.executable, __file__, "--mode", mode, "--objects", str(args.objects),
                               "--changed-percent", str(args.changed_percent), "--listing", args.listing,
                               "--resources", str(args.resources), "--out", str(args.out)], check=False)
        failed += done.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
