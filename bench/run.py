"""Coffer's figures, measured on the embedded twin: one command, a table on stdout, bench/results.json.

    .venv/bin/python bench/run.py                      # everything; the scale runs use --objects 100000
    .venv/bin/python bench/run.py --objects 10000      # the scale runs on a smaller bucket
    .venv/bin/python bench/run.py --skip-scale         # per-type figures, selection CPU, cold starts only
    .venv/bin/python bench/run.py --types Aurora,DocumentDB,Neptune --per-type-only   # those types' jobs only

What is measured, and how:
- AWS API calls per backup, restore and copy job of each resource type the twin supports, counted at
  botocore's ``before-send`` (coffer_twin.calls; every attempt, polls included) and split by who made them:
  the handlers, or Step Functions itself (Lambda invokes, ItemReader listings, ResultWriter writes). The
  bench's own setup and its DescribeExecution polling are not counted.
- State transitions per execution: the parent's ``*StateEntered`` history events, plus one per Distributed
  Map child (each child runs one Task state; moto keeps no history for children).
- Bytes of object data that pass through Lambda: bodies handlers read with GetObject from the source bucket
  or from vault blobs, and bodies they send with PutObject/UploadPart to vault blobs or to a restore's
  target. For S3 this must be 0: objects are copied server-side.
- Catalog reads and writes per job (DynamoDB calls on the catalog table by handlers; for a copy job, on the
  source's and the destination's catalogs) and how many are Scans.
- Before the first measured job, one volume is backed up and copied unmeasured (``warm_up``): the session's
  one-time work (the copy role's credentials, the destination's stack outputs, the catalog's first records) is
  not counted against whichever type runs first.
- Copy jobs: each type's recovery point copied to the Default vault of Coffer's storage in us-west-2 of the same
  account (local/copy_destinations.py), as a cross-region copy; the destination's calls are counted with the
  job's (made by the same handlers through the copy role).
- CPU time of selection (coffer.domain.selection.SelectionMatcher) over 100,000 resources.
- Cold-start import time of each handler module: a fresh interpreter per handler, time.perf_counter around
  importing its app.py (which builds its clients from the environment, as at a Lambda cold start).
- Scale (issue 10): an S3 backup of --objects objects, then again with 1 % of them changed: API calls, state
  transitions, Lambda invocations, the most objects one invocation handled, bytes through Lambda, wall time
  and the twin process's peak memory (each run in its own process).

Twin caveats: moto answers in-process, so times measure Coffer plus the emulator, not AWS latency; Wait
states really wait (PollSeconds=1, wait_scale 1.0); Lambda's memory and time limits are not enforced. The
machine line gives the load average when the run started: times (not counts) grow with it.

Results are merged into bench/results.json, read again just before writing: the keys this run measured are
replaced, the others kept (bench/scale.py's, which carry their own date; the types not in --types, listed under
``kept_from`` with the date of the run that measured them).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers"))

READS = {"GetItem", "BatchGetItem", "Query", "Scan"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
DATA_IN = {"GetObject"}
DATA_OUT = {"PutObject", "UploadPart"}


# ---- measuring one job ----------------------------------------------------------------------------------
def measure(coffer: Any, detail_type: str, detail: dict[str, Any], data_buckets: set[str],
            destination: dict[str, str] | None = None, during: Any = None, settle: bool = False) -> dict[str, Any]:
    """Run one workflow from its event and count what it did. A copy job's `destination` (its stack's outputs):
    its catalog counts as the job's catalog, its vault's blobs as vault data. `during(execution_arn)`, if given, runs
    while the workflow does (bench/native.py lets simulated time pass there); its own calls are the driver's.
    `settle`: count what the run set off asynchronously too (the notifier on its job events), waited for."""
    from coffer_twin.calls import DRIVER, ENGINE, CallRecorder

    twin = coffer.twin
    invocations_before = Counter(twin.invocations)
    started = time.perf_counter()
    with CallRecorder() as calls:
        bus = None if detail_type == "StartBackupJob" else coffer.request_bus  # restores, copies: the stack's bus
        arns = twin.put_event("coffer", detail_type, detail, bus=bus)
        if during is not None:
            during(arns[0])
        result = twin.wait(arns[0], timeout=3600)
        if settle:
            twin.wait_for_async()
    wall = time.perf_counter() - started
    recorded = [c for c in calls.snapshot() if c.caller != DRIVER]
    handlers = [c for c in recorded if c.caller != ENGINE]
    engine = [c for c in recorded if c.caller == ENGINE]
    invocations = Counter(twin.invocations) - invocations_before
    history = twin.history(result["arn"])
    children = sum(n for f, n in invocations.items() if f in ("CopyBatchFunction", "RestoreBatchFunction",
                                                                "CopyPartFunction"))
    tables = {coffer.settings.catalog_table, *([destination["CatalogTableName"]] if destination else [])}
    vaults = {coffer.settings.vault_bucket, *([destination["VaultBucketName"]] if destination else [])}
    catalog = [c for c in handlers if c.service == "dynamodb" and tables & set(c.tables)]

    def data_bytes(call: Any) -> int:
        bucket, key = call.bucket_and_key
        touches_data = bucket in data_buckets or (bucket in vaults and "/blobs/" in (key or ""))
        if not touches_data:
            return 0
        if call.operation in DATA_IN:
            return int(call.response_bytes)
        return int(call.request_bytes) if call.operation in DATA_OUT else 0

    return {
        "status": result["status"],
        "job_state": (result.get("output") or {}).get("state"),
        "api_calls": len(recorded),
        "api_calls_by_handlers": len(handlers),
        "api_calls_by_step_functions": len(engine),
        "calls_by_operation": dict(sorted(Counter(f"{c.service}.{c.operation}" for c in recorded).items())),
        "state_transitions": sum(1 for e in history if e["type"].endswith("StateEntered")) + children,
        "lambda_invocations": sum(invocations.values()),
        "data_bytes_through_lambda": sum(data_bytes(c) for c in handlers if c.service == "s3"),
        "catalog_reads": sum(1 for c in catalog if c.operation in READS),
        "catalog_writes": sum(1 for c in catalog if c.operation in WRITES),
        "catalog_scans": sum(1 for c in catalog if c.operation == "Scan"),
        "wall_seconds": round(wall, 2),
        "output": result.get("output"),
        "error": result.get("error"),
        "execution_arn": result["arn"],
    }


# ---- the resource types -----------------------------------------------------------------------------------
def _s3(coffer: Any, n: int) -> tuple[str, set[str], dict[str, str]]:
    s3 = coffer.client("s3")
    bucket = f"bench-source-{n}"
    s3.create_bucket(Bucket=bucket)
    for k in range(100):
        s3.put_object(Bucket=bucket, Key=f"data/{k:03d}.bin", Body=os.urandom(256 + k), Tagging=f"n={k}")
    target = f"bench-restored-{n}"
    return f"arn:aws:s3:::{bucket}", {bucket, target}, {"DestinationBucketName": target, "NewBucket": "true"}


def _dynamodb(coffer: Any, n: int) -> tuple[str, set[str], dict[str, str]]:
    from coffer_cli.local.samples import create_sample_table

    name = f"bench-table-{n}"
    dynamodb = coffer.client("dynamodb")
    create_sample_table(dynamodb, name)
    # a DynamoDB copy exports the table as of its recovery point: point-in-time recovery must be on
    dynamodb.update_continuous_backups(TableName=name,
                                       PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    arn = f"arn:aws:dynamodb:{coffer.twin.region}:{coffer.twin.account_id}:table/{name}"
    return arn, set(), {"targetTableName": f"{name}-restored"}


def _ebs(coffer: Any, n: int) -> tuple[str, set[str], dict[str, str]]:
    from coffer_cli.local.samples import create_sample_volume

    return create_sample_volume(coffer.client("ec2"), f"bench-volume-{n}"), set(), {}


def _ec2(coffer: Any, n: int) -> tuple[str, set[str], dict[str, str]]:
    from coffer_cli.local.samples import create_sample_instance

    return create_sample_instance(coffer.client("ec2"), f"bench-web-{n}"), set(), {}


def _rds(coffer: Any, n: int) -> tuple[str, set[str], dict[str, str]]:
    from coffer_cli.local.samples import create_sample_db_instance

    arn = create_sample_db_instance(coffer.client("rds"), coffer.client("ec2"), f"bench-db-{n}")
    return arn, set(), {"DBInstanceIdentifier": f"bench-db-{n}-restored"}


def _aurora(coffer: Any, n: int) -> tuple[str, set[str], dict[str, str]]:
    from coffer_cli.local.samples import create_sample_cluster

    arn = create_sample_cluster(coffer.client("rds"), coffer.client("ec2"), f"bench-ledger-{n}")
    return arn, set(), {"DBClusterIdentifier": f"bench-ledger-{n}-restored"}


def _documentdb(coffer: Any, n: int) -> tuple[str, set[str], dict[str, str]]:
    from coffer_cli.local.samples import create_sample_documentdb_cluster

    arn = create_sample_documentdb_cluster(coffer.client("rds"), coffer.client("ec2"), f"bench-profiles-{n}")
    return arn, set(), {"DBClusterIdentifier": f"bench-profiles-{n}-restored"}


def _neptune(coffer: Any, n: int) -> tuple[str, set[str], dict[str, str]]:
    from coffer_cli.local.samples import create_sample_neptune_cluster

    arn = create_sample_neptune_cluster(coffer.client("rds"), coffer.client("ec2"), f"bench-graph-{n}")
    return arn, set(), {"DBClusterIdentifier": f"bench-graph-{n}-restored"}


TYPES = {"S3": _s3, "DynamoDB": _dynamodb, "EBS": _ebs, "EC2": _ec2, "RDS": _rds, "Aurora": _aurora,
         "DocumentDB": _documentdb, "Neptune": _neptune}


def per_type(only: list[str] | None) -> dict[str, Any]:
    from coffer_cli.local.copy_destinations import prepare_copy_destination
    from coffer_cli.local.session import local_twin

    figures: dict[str, Any] = {}
    # Wait states at AWS's timing (twin/waits.py): the polls a real deployment makes with the same parameters
    with local_twin(ROOT, wait_scale=1.0) as coffer:
        # copies go to Coffer's storage in us-west-2 of the same account (a cross-region copy)
        destination = prepare_copy_destination(coffer, ROOT)
        warm_up(coffer, destination)
        for n, (name, make) in enumerate(TYPES.items()):
            if only and name not in only:
                continue
            try:
                arn, data, metadata = make(coffer, n)
            except Exception as error:  # the twin (moto) or the samples do not have this type
                figures[name] = {"skipped": f"cannot make a {name} resource on the twin: {error}"}
                continue
            row: dict[str, Any] = {}
            backup = measure(coffer, "StartBackupJob", {"ResourceArn": arn, "IdempotencyToken": f"bench-{n}"},
                             data)
            row["backup"] = backup
            job_id = (backup.get("output") or {}).get("job_id")
            if backup["job_state"] != "COMPLETED" or not job_id:
                figures[name] = {**row, "skipped": f"backup ended {backup['status']} {backup['error']}"}
                continue
            rp = coffer.deps.catalog.get_job(job_id).recovery_point_id
            row["restore"] = measure(coffer, "StartRestoreJob", {
                "RecoveryPointArn": rp, "IdempotencyToken": f"bench-restore-{n}", "Metadata": metadata}, data)
            row["copy"] = copy_job(coffer, rp, n, data, destination)
            figures[name] = row
    return figures


def warm_up(coffer: Any, destination: dict[str, str]) -> None:
    """One backup and copy of a volume, not measured: what the first jobs of a session do once (the copy role's
    AssumeRole and the destination's DescribeStacks, cached for the session; the catalog's first records) would
    otherwise be counted against whichever type runs first, and a --types run would measure another first type."""
    from coffer_cli.local.samples import create_sample_volume

    arn = create_sample_volume(coffer.client("ec2"), "bench-warm-up")
    result = coffer.twin.wait(coffer.twin.put_event("coffer", "StartBackupJob", {
        "ResourceArn": arn, "IdempotencyToken": "bench-warm-up"})[0], timeout=600)
    job_id = (result.get("output") or {}).get("job_id")
    if job_id:
        copy_job(coffer, coffer.deps.catalog.get_job(job_id).recovery_point_id, 999, set(), destination)


def copy_job(coffer: Any, recovery_point_id: str, n: int, data: set[str],
             destination: dict[str, str]) -> dict[str, Any]:
    """A copy job of the recovery point to the Default vault of another region (the same account)."""
    from coffer_cli.local.copy_destinations import DESTINATION_REGION, vault_arn

    detail = {"RecoveryPointArn": recovery_point_id, "SourceBackupVaultName": "Default",
              "DestinationBackupVaultArn": vault_arn(DESTINATION_REGION, coffer.twin.account_id),
              "IdempotencyToken": f"bench-copy-{n}"}
    try:
        measured = measure(coffer, "StartCopyJob", detail, data, destination)
    except Exception as error:
        return {"skipped": f"copy job could not run on the twin: {error}"}
    if measured["job_state"] != "COMPLETED":
        causes = [e.get("taskFailedEventDetails", {}).get("cause", "") for e in coffer.twin.history(
            measured["execution_arn"]) if e["type"] == "TaskFailed"]
        reason = json.loads(causes[0]).get("errorMessage", causes[0]) if causes and causes[0].startswith("{") else ""
        return {"skipped": f"the copy job ended {measured['status']} on the twin ({measured['error']}: {reason})"}
    return measured


# ---- selection CPU ----------------------------------------------------------------------------------------
def selection_cpu(resources: int = 100_000) -> dict[str, Any]:
    try:
        from coffer.domain.plans import BackupSelection
        from coffer.domain.selection import SelectionMatcher
    except ImportError as error:
        return {"skipped": f"no selection matcher: {error}"}
    rng = random.Random(8)
    kinds = ["arn:aws:s3:::bucket-{}", "arn:aws:dynamodb:us-east-1:123456789012:table/t-{}",
             "arn:aws:ec2:us-east-1:123456789012:volume/vol-{:017x}", "arn:aws:rds:us-east-1:123456789012:db:db-{}"]
    fleet = [(rng.choice(kinds).format(i), {"env": rng.choice(["prod", "dev", "test"]), "team": f"t{i % 40}",
                                            "backup": rng.choice(["daily", "none", "weekly"])})
             for i in range(resources)]
    selections = [
        BackupSelection.model_validate({"SelectionName": "prod", "Resources": ["*"], "Conditions": {
            "StringEquals": [{"ConditionKey": "aws:ResourceTag/env", "ConditionValue": "prod"}],
            "StringNotEquals": [{"ConditionKey": "aws:ResourceTag/backup", "ConditionValue": "none"}]}}),
        BackupSelection.model_validate({"SelectionName": "buckets", "Resources": ["arn:aws:s3:::bucket-1*"],
                                        "NotResources": ["arn:aws:s3:::bucket-19*"]}),
        BackupSelection.model_validate({"SelectionName": "teams", "Resources": ["*"], "Conditions": {
            "StringLike": [{"ConditionKey": "aws:ResourceTag/team", "ConditionValue": "t1*"}]}}),
    ]
    matchers = [SelectionMatcher(s) for s in selections]
    started = time.process_time()
    selected = sum(1 for arn, tags in fleet if any(m.matches(arn, tags) for m in matchers))
    cpu = time.process_time() - started
    return {"resources": resources, "selections": len(selections), "selected": selected,
            "cpu_seconds": round(cpu, 3), "cpu_microseconds_per_resource": round(cpu / resources * 1e6, 2)}


# ---- cold starts --------------------------------------------------------------------------------------------
_IMPORT = """
import importlib.util, json, sys, time
sys.path[:0] = [{layers!r}, {code!r}]
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(time.perf_counter() - started))
"""


def cold_starts(repeat: int = 3) -> dict[str, float]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
           "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "x", "CATALOG_TABLE": "catalog", "VAULT_BUCKET": "vault", "WORK_BUCKET": "work",
           "VAULT_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/k", "POWERTOOLS_SERVICE_NAME": "coffer",
           "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "Coffer",
           "STACK_NAME": "coffer", "PYTHONDONTWRITEBYTECODE": "1"}
    figures: dict[str, float] = {}
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        code = _IMPORT.format(layers=str(ROOT / "layers"), code=str(app.parent), path=str(app))
        times = []
        for _ in range(repeat):
            done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                times = []
                figures[app.parent.name] = float("nan")
                print(f"  cold start of {app.parent.name} failed: {done.stderr.strip().splitlines()[-1:]}")
                break
            times.append(float(done.stdout.strip().splitlines()[-1]))
        if times:
            figures[app.parent.name] = round(statistics.median(times) * 1000, 1)
    return figures


# ---- scale (issue 10) ---------------------------------------------------------------------------------------
def scale(objects: int, changed_percent: float = 1.0) -> dict[str, Any]:
    """Run in its own process (see main): an S3 backup of `objects` objects, then again with 1 % changed."""
    from moto.s3.models import s3_backends

    from coffer_cli.local.session import local_twin

    results: dict[str, Any] = {"objects": objects}
    with local_twin(ROOT) as coffer:
        bucket = "bench-scale"
        coffer.client("s3").create_bucket(Bucket=bucket)
        backend = s3_backends[coffer.twin.account_id]["global"]
        started = time.perf_counter()
        for k in range(objects):  # straight into moto's store: the bench's setup is not what it measures
            backend.put_object(bucket, f"data/{k // 1000:04d}/{k:07d}.bin", f"object {k} v1".encode())
        results["setup_seconds"] = round(time.perf_counter() - started, 1)
        arn = f"arn:aws:s3:::{bucket}"
        for run, token in (("first", "scale-1"), ("one_percent_changed", "scale-2")):
            if run == "one_percent_changed":
                rng = random.Random(10)
                for k in rng.sample(range(objects), max(1, int(objects * changed_percent / 100))):
                    backend.put_object(bucket, f"data/{k // 1000:04d}/{k:07d}.bin", f"object {k} v2".encode())
            measured = measure(coffer, "StartBackupJob", {"ResourceArn": arn, "IdempotencyToken": token}, {bucket})
            job = coffer.deps.catalog.get_job(measured["output"]["job_id"])
            parts = list(coffer.deps.catalog.list_parts(job.job_id))
            measured.pop("output")
            measured["objects_copied"] = job.progress.objects_copied
            measured["objects_reused"] = job.progress.objects_reused
            measured["largest_batch_objects"] = max((p["part"]["objects"] + len(p["failed"]) for p in parts), default=0)
            measured["largest_listing_objects"] = _largest_listing(coffer, job.job_id,
                                                                   measured.pop("execution_arn"))
            results[run] = measured
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results


def _largest_listing(coffer: Any, job_id: str, execution_arn: str) -> int:
    """Keys one ListBatches invocation listed: the items of the batch files it wrote (from the execution's
    history, each invocation's next_seq; the batch files are read after the run and not counted)."""
    from coffer.domain.manifest import WorkLayout

    bounds, state = [0], None
    for event in coffer.twin.history(execution_arn):
        if event["type"] == "TaskStateEntered":
            state = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "TaskSucceeded" and state == "ListBatches":
            bounds.append(int(json.loads(event["taskSucceededEventDetails"]["output"])["Payload"]["next_seq"]))
    sizes = [sum(len(coffer.deps.work.read_json(WorkLayout.batch(job_id, seq))["items"]) for seq in range(a, b))
             for a, b in itertools.pairwise(bounds)]
    return max(sizes, default=0)


# ---- the table ----------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.node()} · {platform.machine()} · {os.cpu_count()} CPUs · "
                       f"Python {platform.python_version()} · {platform.platform(terse=True)} · "
                       f"load average {load} at the start"}


def table(results: dict[str, Any]) -> str:
    lines = [f"Coffer bench — {results['date']} — {results['machine']}", ""]
    per = results.get("per_type", {})
    if per:
        lines.append("| type | job | status | API calls (handlers + Step Functions) | state transitions | "
                     "Lambda invocations | object bytes through Lambda | catalog reads / writes (scans) |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for name, row in per.items():
            for job in ("backup", "restore", "copy"):
                m = row.get(job)
                if not m:
                    continue
                if "skipped" in m:
                    lines.append(f"| {name} | {job} | not measured: {m['skipped']} | | | | | |")
                    continue
                lines.append(f"| {name} | {job} | {m['job_state'] or m['status']} | {m['api_calls']} "
                             f"({m['api_calls_by_handlers']} + {m['api_calls_by_step_functions']}) | "
                             f"{m['state_transitions']} | {m['lambda_invocations']} | "
                             f"{m['data_bytes_through_lambda']} | {m['catalog_reads']} / {m['catalog_writes']} "
                             f"({m['catalog_scans']}) |")
            if "skipped" in row and "backup" not in row:
                lines.append(f"| {name} | — | {row['skipped']} | | | | | |")
        lines.append("")
    sel = results.get("selection", {})
    if "cpu_seconds" in sel:
        lines.append(f"Selection: {sel['resources']:,} resources x {sel['selections']} selections in "
                     f"{sel['cpu_seconds']} s CPU ({sel['cpu_microseconds_per_resource']} µs per resource, "
                     f"{sel['selected']:,} selected)")
    elif sel:
        lines.append(f"Selection: {sel.get('skipped')}")
    cold = results.get("cold_start_ms", {})
    if cold:
        lines.append("Cold-start import (ms, median of 3): " + ", ".join(f"{k} {v}" for k, v in cold.items()))
    sc = results.get("scale")
    if sc and "first" in sc:
        lines += ["", f"S3 at scale: {sc['objects']:,} objects (setup {sc['setup_seconds']} s, peak RSS of the twin "
                      f"process {sc['peak_rss_mb']} MB)",
                  "| run | status | API calls (handlers + SFN) | state transitions | Lambda invocations | "
                  "most objects per invocation (copy / listing) | copied / reused | bytes through Lambda | "
                  "wall s |", "|---|---|---|---|---|---|---|---|---|"]
        for run in ("first", "one_percent_changed"):
            m = sc[run]
            lines.append(f"| {run.replace('_', ' ')} | {m['job_state']} | {m['api_calls']:,} "
                         f"({m['api_calls_by_handlers']:,} + {m['api_calls_by_step_functions']:,}) | "
                         f"{m['state_transitions']} | {m['lambda_invocations']} | {m['largest_batch_objects']} / "
                         f"{m['largest_listing_objects']} | {m['objects_copied']:,} / {m['objects_reused']:,} | "
                         f"{m['data_bytes_through_lambda']} | {m['wall_seconds']} |")
    elif sc:
        lines.append(f"S3 at scale: {sc.get('skipped')}")
    kept = results.get("kept_from", {})
    if kept:
        lines += ["", "Kept from earlier runs: " + ", ".join(f"{key} ({date})" for key, date in kept.items())]
    if sc and sc.get("date") and "first" in sc:
        lines.append(f"(S3 at scale measured {sc['date']})")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--objects", type=int, default=100_000, help="objects in the scale runs (issue 10)")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--types", help="comma-separated resource types (default: all the twin supports)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--per-type-only", action="store_true",
                        help="only the per-type jobs (no selection CPU, cold starts or scale: those are kept)")
    parser.add_argument("--scale-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import logging

    logging.getLogger("moto").setLevel(logging.CRITICAL)
    if args.scale_only:  # the child process of a scale run
        print(json.dumps(scale(args.objects)))
        return 0
    measured: dict[str, Any] = machine()
    measured["per_type"] = per_type(args.types.split(",") if args.types else None)
    if not args.per_type_only:
        measured["selection"] = selection_cpu()
        measured["cold_start_ms"] = cold_starts()
    if not args.skip_scale and not args.per_type_only:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, "--scale-only", "--objects", str(args.objects)],
                              capture_output=True, text=True, check=False)
        if done.returncode == 0:
            measured["scale"] = json.loads(done.stdout.strip().splitlines()[-1])
        else:
            measured["scale"] = {"skipped": f"failed after {time.perf_counter() - started:.0f} s: "
                                            f"{done.stderr.strip().splitlines()[-1:]}"}
    # read just before writing: other benches (bench/scale.py) merge their keys into the same file meanwhile
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    kept: dict[str, str] = {k: v for k, v in previous.get("kept_from", {}).items()
                            if k.startswith("per_type.") or k in ("selection", "cold_start_ms")}
    for key in ("selection", "cold_start_ms"):
        if key in measured:
            kept.pop(key, None)
        elif key in previous:
            kept.setdefault(key, previous.get(key, {}).get("date") or previous["date"])
    for name in previous.get("per_type", {}):
        if name not in measured["per_type"]:
            kept.setdefault(f"per_type.{name}", previous["date"])
        else:
            kept.pop(f"per_type.{name}", None)
    measured["per_type"] = {**previous.get("per_type", {}), **measured["per_type"]}
    results: dict[str, Any] = {**previous, **measured, "kept_from": kept}
    for row in results["per_type"].values():
        for job in row.values():
            if isinstance(job, dict):
                job.pop("output", None)
                job.pop("execution_arn", None)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
