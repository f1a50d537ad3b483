"""The world the fault tests run in: one twin per module with the fault injector installed, the workflows to
run (each on fresh data, so that every run makes the same AWS calls), and what "nothing left behind" means.

Left behind, precisely (checked by :meth:`World.left_behind` after every run):
- a job that is not terminal, or that ended FAILED/PARTIAL/ABORTED without a reason;
- a backup job whose recovery point does not match its end: COMPLETED and PARTIAL jobs have a COMPLETED or
  PARTIAL one, a FAILED or ABORTED job at most a DELETING one (what it wrote is recorded for the sweeper);
- a resource lease or a restore hold still held;
- a DynamoDB backup that is neither the native backup of a catalogued recovery point nor named after a
  DELETING one (the sweeper deletes those);
- an object under ``recovery-points/<id>/`` of the vault whose recovery point the catalog does not know;
- a staging copy (customer bytes) in the work bucket.
Vault blobs are content-addressed and Object-Locked: a blob a failed job copied is not left behind, the next
backup of the same content uses it (tests check this by backing the same bucket up again).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from coffer.domain.jobs import Job, JobKind, JobState
from coffer.domain.manifest import Manifest
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.local.samples import bucket_snapshot, create_sample_table, table_items
from coffer.local.session import LocalCoffer, local_twin
from coffer.services.jobs_common import job_id_for
from coffer.twin.calls import DRIVER, ENGINE, CallRecorder
from coffer.twin.faults import FaultInjector, asl_task_functions

ROOT = Path(__file__).resolve().parents[2]
TABLE = "coffer-sample-orders"
WORKFLOWS = ("s3-backup", "s3-restore", "ddb-backup", "ddb-restore")
#: BatchSize 4 with 6 objects per bucket: two CopyBatch children, two manifest parts
PARAMETERS = {"BatchSize": "4"}
OBJECTS = 6
#: botocore's sleeps between retries, scaled (the retries themselves all happen)
BACKOFF_SCALE = 0.01


@dataclass
class Run:
    workflow: str
    result: dict[str, Any]
    job_id: str
    check: Callable[[], None]
    """asserts the workflow's effect (the recovery point holds the data / the restored copy equals it)"""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return str(self.result["status"])


class World:
    def __init__(self, coffer: LocalCoffer, faults: FaultInjector) -> None:
        self.coffer = coffer
        self.faults = faults
        self.twin = coffer.twin
        self.s3 = coffer.client("s3")
        self.db = coffer.client("dynamodb")
        self._n = itertools.count()
        self.table_arn = f"arn:aws:dynamodb:{self.twin.region}:{self.twin.account_id}:table/{TABLE}"
        create_sample_table(self.db)
        self._recovery_points: dict[str, str] = {}
        self.attempts: Counter[tuple[str, str, str]] = Counter()

    # -- the workflows, each on fresh data --------------------------------------------------------------
    def fresh_bucket(self) -> str:
        bucket = f"fault-source-{next(self._n)}"
        self.s3.create_bucket(Bucket=bucket)
        for k in range(OBJECTS):  # content unique to the bucket: every run copies into the vault anew
            self.s3.put_object(Bucket=bucket, Key=f"data/{k}.txt", Body=f"{bucket} object {k}\n".encode(),
                               ContentType="text/plain", Metadata={"n": str(k)}, Tagging=f"k={k}")
        return bucket

    def s3_backup(self, bucket: str | None = None) -> Run:
        bucket = bucket or self.fresh_bucket()
        token = f"s3-backup-{next(self._n)}"
        result = self.coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{bucket}", "IdempotencyToken": token})

        def check() -> None:
            rp = self.recovery_point_of(job_id_for(token))
            assert rp.status is RecoveryPointStatus.COMPLETED
            manifest = Manifest.model_validate_json(self.coffer.deps.vault.get_bytes(rp.manifest_key or ""))
            assert manifest.objects == OBJECTS and not manifest.failed_keys

        return Run("s3-backup", result, job_id_for(token), check, {"bucket": bucket})

    def ddb_backup(self) -> Run:
        token = f"ddb-backup-{next(self._n)}"
        result = self.coffer.start_backup({"ResourceArn": self.table_arn, "IdempotencyToken": token})

        def check() -> None:
            rp = self.recovery_point_of(job_id_for(token))
            assert rp.status is RecoveryPointStatus.COMPLETED and rp.native_ref
            status = self.db.describe_backup(BackupArn=rp.native_ref)["BackupDescription"]["BackupDetails"]
            assert status["BackupStatus"] == "AVAILABLE"

        return Run("ddb-backup", result, job_id_for(token), check)

    def base_recovery_point(self, kind: str) -> str:
        """A recovery point made once per module (without faults) for the restores to read."""
        if kind not in self._recovery_points:
            saved = self.faults.faults
            self.faults.clear()
            run = self.s3_backup() if kind == "s3" else self.ddb_backup()
            for fault in saved:
                self.faults.add(fault)
            assert run.status == "SUCCEEDED", run.result
            self._recovery_points[kind] = self.coffer.deps.catalog.get_job(run.job_id).recovery_point_id
            if kind == "s3":
                self._source_bucket = run.details["bucket"]
        return self._recovery_points[kind]

    def s3_restore(self) -> Run:
        rp = self.base_recovery_point("s3")
        n = next(self._n)
        target, token = f"fault-restored-{n}", f"s3-restore-{n}"
        result = self.coffer.start_restore({"RecoveryPointArn": rp, "IdempotencyToken": token,
                                            "Metadata": {"DestinationBucketName": target, "NewBucket": "true"}})

        def check() -> None:
            assert self.job(job_id_for(token)).state is JobState.COMPLETED
            assert bucket_snapshot(self.s3, target) == bucket_snapshot(self.s3, self._source_bucket)

        return Run("s3-restore", result, job_id_for(token), check, {"target": target})

    def ddb_restore(self) -> Run:
        rp = self.base_recovery_point("ddb")
        n = next(self._n)
        target, token = f"fault-restored-{n}", f"ddb-restore-{n}"
        result = self.coffer.start_restore({"RecoveryPointArn": rp, "IdempotencyToken": token,
                                            "Metadata": {"targetTableName": target}})

        def check() -> None:
            assert self.job(job_id_for(token)).state is JobState.COMPLETED
            assert table_items(self.db, target) == table_items(self.db, TABLE)

        return Run("ddb-restore", result, job_id_for(token), check, {"target": target})

    def run(self, workflow: str) -> Run:
        return {"s3-backup": self.s3_backup, "s3-restore": self.s3_restore,
                "ddb-backup": self.ddb_backup, "ddb-restore": self.ddb_restore}[workflow]()

    # -- what can fail: derived from the ASL and from a clean run -------------------------------------
    def steps(self, workflow: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
        """(Task state -> function of the Task states the workflow visits, [(caller, service, operation)] of
        every AWS call its handlers and Step Functions make), from the ASL and a fault-free run. The number
        of attempts of each in that run is kept in ``self.attempts``."""
        machine = "Restore" if workflow.endswith("restore") else "Backup"
        definition = json.loads((ROOT / "statemachines" / f"{machine.lower()}.asl.json").read_text())
        tasks = asl_task_functions(definition)
        saved = self.faults.faults
        self.faults.clear()
        self.base_recovery_point("s3" if workflow.startswith("s3") else "ddb")
        with CallRecorder() as calls:
            run = self.run(workflow)
        for fault in saved:
            self.faults.add(fault)
        assert run.status == "SUCCEEDED", run.result
        entered = {e["stateEnteredEventDetails"]["name"] for e in self.twin.history(str(run.result["arn"]))
                   if e["type"] == "TaskStateEntered"}
        self.attempts = Counter((c.caller, c.service, c.operation) for c in calls.snapshot() if c.caller != DRIVER)
        operations = sorted(self.attempts)
        callers = {caller for caller, _, _ in operations}
        # states inside a Distributed Map run in child executions, whose history is not the parent's
        visited = {state: function for state, function in tasks.items() if state in entered or function in callers}
        assert callers - {ENGINE} <= set(visited.values()), f"calls from outside the ASL's Task states: {callers}"
        assert set(visited.values()) <= callers, f"a visited Task state made no AWS call: {visited}, {callers}"
        assert ENGINE in callers
        return visited, operations

    def states_after_the_end(self, workflow: str) -> set[str]:
        """Functions of the Task states that run after the job has ended (e.g. recording the audit event)."""
        machine = "restore" if workflow.endswith("restore") else "backup"
        definition = json.loads((ROOT / "statemachines" / f"{machine}.asl.json").read_text())
        states, tasks = definition["States"], asl_task_functions(definition)
        ending = "CompleteRestore" if machine == "restore" else "CompleteBackup"
        after: set[str] = set()
        state = states[ending].get("Next")
        while state and state not in after:
            after.add(state)
            state = states[state].get("Next")
        return {tasks[name] for name in after if name in tasks}

    def physical_name(self, logical_id: str) -> str:
        return self.twin.physical_id(logical_id).rsplit(":", 1)[-1]

    # -- the catalog and what is left behind ----------------------------------------------------------
    def job(self, job_id: str) -> Job:
        return self.coffer.deps.catalog.get_job(job_id)

    def recovery_point_of(self, job_id: str) -> RecoveryPoint:
        return self.coffer.deps.catalog.get_recovery_point(self.job(job_id).recovery_point_id)

    def catalog(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.db.get_paginator("scan").paginate(TableName=self.coffer.settings.catalog_table):
            items.extend(page["Items"])
        return items

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def left_behind(self, allow_staging_of: str | None = None) -> list[str]:
        items = self.catalog()
        jobs = [Job.model_validate_json(i["doc"]["S"]) for i in items if i["sk"]["S"] == "JOB"]
        rps = {rp.recovery_point_id: rp for rp in (RecoveryPoint.model_validate_json(i["doc"]["S"])
                                                     for i in items if i["sk"]["S"] == "RP")}
        found: list[str] = []
        for job in jobs:
            if not job.state.terminal:
                found.append(f"job {job.job_id} ({job.kind}) left {job.state}")
            elif job.state in (JobState.FAILED, JobState.PARTIAL, JobState.ABORTED) and not job.status_message:
                found.append(f"job {job.job_id} ended {job.state} without a reason")
            if job.kind is JobKind.BACKUP and job.state.terminal:
                rp = rps.get(job.recovery_point_id)
                status = rp.status if rp else None
                allowed = {JobState.COMPLETED: {RecoveryPointStatus.COMPLETED},
                           JobState.PARTIAL: {RecoveryPointStatus.PARTIAL},
                           JobState.FAILED: {None, RecoveryPointStatus.DELETING},
                           JobState.ABORTED: {None, RecoveryPointStatus.DELETING},
                           JobState.EXPIRED: {None}}[job.state]
                if status not in allowed:
                    found.append(f"job {job.job_id} ended {job.state} with recovery point {status}")
        found += [f"lease {i['pk']['S']} held by {i['job_id']['S']}" for i in items if i["sk"]["S"] == "LEASE"]
        found += [f"restore hold on {i['pk']['S']}: {i['restores']['SS']}" for i in items
                  if i["sk"]["S"] == "RPLOCK" and "restores" in i]
        native = {rp.native_ref for rp in rps.values() if rp.native_ref}
        for backup in self.db.list_backups(TableName=TABLE)["BackupSummaries"]:
            owner = rps.get(backup["BackupName"].removeprefix("coffer-"))
            if backup["BackupArn"] not in native and not (owner and owner.status is RecoveryPointStatus.DELETING):
                found.append(f"DynamoDB backup {backup['BackupName']} ({backup['BackupArn']}) of no recovery point")
        for key in self.keys(self.coffer.settings.vault_bucket):
            if "/recovery-points/" in key and key.split("/recovery-points/")[1].split("/")[0] not in rps:
                found.append(f"vault object {key} of no catalogued recovery point")
        for key in self.keys(self.coffer.settings.work_bucket, "jobs/"):
            if "/staging/" in key and not (allow_staging_of and key.startswith(f"jobs/{allow_staging_of}/")):
                found.append(f"staging object {key} left in the work bucket")
        return found

    def blobs(self) -> set[str]:
        return {k for k in self.keys(self.coffer.settings.vault_bucket) if "/blobs/" in k}

    def manifest_blobs(self, recovery_point_id: str) -> set[str]:
        rp = self.coffer.deps.catalog.get_recovery_point(recovery_point_id)
        manifest = Manifest.model_validate_json(self.coffer.deps.vault.get_bytes(rp.manifest_key or ""))
        entries = [e for p in manifest.parts for e in self.coffer.deps.vault.get_json(p.key)["entries"]]
        return {f"vaults/{rp.vault_name}/blobs/sha256/{e['sha256']}" for e in entries}


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with local_twin(ROOT, parameters=PARAMETERS) as coffer, FaultInjector(backoff_scale=BACKOFF_SCALE) as faults:
        yield World(coffer, faults)


@pytest.fixture(autouse=True)
def _no_fault_outlives_its_test(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "world" in request.fixturenames:
        request.getfixturevalue("world").faults.clear()
