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
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.adapters.catalog.dynamodb import DynamoCatalog
from coffer.adapters.catalog.plans import PlanCatalog
from coffer.adapters.catalog.sweeps import SweepRecords
from coffer.adapters.resources.common import TAG_RECOVERY_POINT, TAG_RESTORE_JOB
from coffer.domain.cold_tier import TIER_TAG, warm_tags
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import Job, JobKind, JobState
from coffer.domain.manifest import Manifest
from coffer.domain.plan_runs import PlanRun, RunState, run_id_for
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus, StorageClass
from coffer.entrypoints.bootstrap import bootstrap
from coffer_cli.commands.common import stack_settings
from coffer_cli.local.copy_destinations import DESTINATION_REGION, prepare_copy_destination, session_in, vault_arn
from coffer_cli.local.samples import (
    bucket_snapshot,
    create_sample_cluster,
    create_sample_db_instance,
    create_sample_instance,
    create_sample_table,
    create_sample_volume,
    table_items,
)
from coffer_cli.local.session import LocalCoffer
from coffer_twin.calls import DRIVER, ENGINE, CallRecorder
from coffer_twin.faults import FaultInjector, asl_task_functions

ROOT = Path(__file__).resolve().parents[2]
TABLE = "coffer-sample-orders"
WORKFLOWS = ("s3-backup", "s3-restore", "ddb-backup", "ddb-restore")
#: the other workflows (test_workflow_matrix.py): a native type's backup and restore, copies of an S3 and of an
#: EBS recovery point to another region, a plan run (its backup a nested execution), the vault scrub
OTHER_WORKFLOWS = ("ebs-backup", "ebs-restore", "s3-copy", "ebs-copy", "plan-run", "verify", "sweep", "cold-storage")
#: the native types' workflows besides EBS's (test_native_matrix.py): backup, restore and copy of an EC2 instance,
#: an RDS instance and an Aurora cluster, and the copy of a DynamoDB recovery point (an export)
NATIVE_KINDS = ("ebs", "ec2", "rds", "aurora")
NATIVE_WORKFLOWS = (*(f"{kind}-{action}" for kind in NATIVE_KINDS[1:] for action in ("backup", "restore", "copy")),
                    "ddb-copy")
#: workflow -> its state machine (statemachines/<name>.asl.json)
MACHINES = {"s3-backup": "backup", "ddb-backup": "backup", "ebs-backup": "backup", "s3-restore": "restore",
            "ddb-restore": "restore", "ebs-restore": "restore", "s3-copy": "copy", "ebs-copy": "copy",
            "plan-run": "planrun", "verify": "verify", "sweep": "sweep", "cold-storage": "coldstorage",
            **{f"{kind}-{action}": machine for kind in (*NATIVE_KINDS[1:], "ddb")
               for action, machine in (("backup", "backup"), ("restore", "restore"), ("copy", "copy"))}}
#: a plan run's backups are nested executions of the Backup workflow: their Task states are the run's steps too
NESTED = {"planrun": ("backup",)}
COPY_DESTINATION = "arn:aws:backup:{region}:{account}:backup-vault:Default"
SCRUB_VAULT = "Scrub"
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
        self.ec2 = coffer.client("ec2")
        self._n = itertools.count()
        self.table_arn = f"arn:aws:dynamodb:{self.twin.region}:{self.twin.account_id}:table/{TABLE}"
        create_sample_table(self.db)
        self._recovery_points: dict[str, str] = {}
        self.attempts: Counter[tuple[str, str, str]] = Counter()
        self._prepared: dict[str, list[Any]] = {}
        self._destination: DynamoCatalog | None = None
        self._scrub_ready = False
        self._sources: dict[str, str] = {}
        self.rds = coffer.client("rds")
        # a DynamoDB copy is an export of the table as it was, which needs point-in-time recovery
        self.db.update_continuous_backups(TableName=TABLE, PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True})

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
        """A recovery point made once per module (without faults) for the restores (and copies) to read."""
        if kind not in self._recovery_points:
            with self.unfaulted():
                run = self.s3_backup() if kind == "s3" else self.ddb_backup() if kind == "ddb" else \
                    self.native_backup(kind)
            assert run.status == "SUCCEEDED", (run.result, self.failed_tasks(str(run.result["arn"])))
            self._recovery_points[kind] = self.coffer.deps.catalog.get_job(run.job_id).recovery_point_id
            if kind == "s3":
                self._source_bucket = run.details["bucket"]
            if kind in NATIVE_KINDS:
                self._sources[kind] = run.details["resource"]
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

    def native_resource(self, kind: str, name: str) -> str:
        """A fresh EBS volume, EC2 instance, RDS instance or Aurora cluster (its ARN)."""
        make: dict[str, Callable[[], str]] = {
            "ebs": lambda: create_sample_volume(self.ec2, name),
            "ec2": lambda: create_sample_instance(self.ec2, name),
            "rds": lambda: create_sample_db_instance(self.rds, self.ec2, name),
            "aurora": lambda: create_sample_cluster(self.rds, self.ec2, name)}
        return make[kind]()

    def native_backup(self, kind: str) -> Run:
        """A backup of a fresh resource of a native type: one artefact, available, naming the recovery point."""
        n = next(self._n)
        resource, token = self.native_resource(kind, f"fault-{kind}-{n}"), f"{kind}-backup-{n}"
        result = self.coffer.start_backup({"ResourceArn": resource, "IdempotencyToken": token})

        def check() -> None:
            rp = self.recovery_point_of(job_id_for(token))
            assert rp.status is RecoveryPointStatus.COMPLETED and rp.native_ref
            made = native_artefacts(kind, self.ec2, self.rds, rp.recovery_point_id)
            assert [i for i, _ in made] == [_artefact_id(rp.native_ref)], made
            assert [s for _, s in made] == ["available"], made
            if kind == "ebs":  # a snapshot of that volume, and only one
                snapshots = self.snapshots(self.ec2, volume_id=resource.rsplit("/", 1)[-1])
                assert [s["SnapshotId"] for s in snapshots] == [rp.native_ref.rsplit("/", 1)[-1]], snapshots

        return Run(f"{kind}-backup", result, job_id_for(token), check, {"resource": resource, "volume": resource})

    def ebs_backup(self) -> Run:
        return self.native_backup("ebs")

    def native_restore(self, kind: str) -> Run:
        """A restore of the module's recovery point of a native type into one new resource."""
        rp = self.base_recovery_point(kind)
        n = next(self._n)
        token, target = f"{kind}-restore-{n}", f"fault-restored-{kind}-{n}"
        metadata = {"ebs": {}, "ec2": {}, "rds": {"DBInstanceIdentifier": target},
                    "aurora": {"DBClusterIdentifier": target}}[kind]
        result = self.coffer.start_restore({"RecoveryPointArn": rp, "IdempotencyToken": token, "Metadata": metadata})
        job_id = job_id_for(token)

        def check() -> None:
            assert self.job(job_id).state is JobState.COMPLETED
            tagged = [{"Name": f"tag:{TAG_RESTORE_JOB}", "Values": [job_id]}]
            if kind == "ebs":
                source = self.ec2.describe_volumes(VolumeIds=[self._sources["ebs"].rsplit("/", 1)[-1]])["Volumes"][0]
                [volume] = self.ec2.describe_volumes(Filters=tagged)["Volumes"]  # one, however often it was sent
                assert (volume["Size"], volume["VolumeType"], volume["AvailabilityZone"]) == (
                    source["Size"], source["VolumeType"], source["AvailabilityZone"])
            elif kind == "ec2":
                reservations = self.ec2.describe_instances(Filters=tagged)["Reservations"]
                [instance] = [i for r in reservations for i in r["Instances"]]  # one, however often it was sent
                assert instance["InstanceType"] == "t3.micro", instance
            elif kind == "rds":
                [db] = self.rds.describe_db_instances(DBInstanceIdentifier=target)["DBInstances"]
                assert (db["Engine"], db["StorageEncrypted"]) == ("postgres", True), db
            else:
                [cluster] = self.rds.describe_db_clusters(DBClusterIdentifier=target)["DBClusters"]
                assert (cluster["Engine"], cluster["StorageEncrypted"]) == ("aurora-postgresql", True), cluster

        return Run(f"{kind}-restore", result, job_id, check, {"target": target})

    def ebs_restore(self) -> Run:
        return self.native_restore("ebs")

    # -- copies into the destination's Default vault in another region (local/copy_destinations.py) ----
    @property
    def destination(self) -> DynamoCatalog:
        """The destination stack's catalog (its storage is deployed on first use)."""
        if self._destination is None:
            outputs = prepare_copy_destination(self.coffer, ROOT)
            session = session_in(DESTINATION_REGION)
            self.destination_s3, self.destination_ec2 = session.client("s3"), session.client("ec2")
            self.destination_rds = session.client("rds")
            self.destination_vault = outputs["VaultBucketName"]
            self.destination_db, self.destination_table = session.client("dynamodb"), outputs["CatalogTableName"]
            self._destination = DynamoCatalog(self.destination_db, self.destination_table)
            # its Default vault's record, made on first use (as in the source by prepare's first backup)
            bootstrap(stack_settings(outputs, session), clock=self.coffer.clock, session=session).vaults.get("Default")
        return self._destination

    def _copy(self, workflow: str, recovery_point_id: str, check_copy: Callable[[RecoveryPoint], None]) -> Run:
        self.destination  # noqa: B018 - deployed before the copy runs
        token = f"{workflow}-{next(self._n)}"
        detail = {"RecoveryPointArn": recovery_point_id, "IdempotencyToken": token,
                  "DestinationBackupVaultArn": vault_arn(DESTINATION_REGION, self.twin.account_id)}
        [arn] = self.twin.put_event("coffer", "StartCopyJob", detail, bus=self.coffer.request_bus)
        result = dict(self.twin.wait(arn, timeout=120))
        job_id = job_id_for(token)

        def check() -> None:
            job = self.job(job_id)
            assert job.state is JobState.COMPLETED and job.destination, (job.state, job.status_message)
            copied = self.destination.get_recovery_point(job.destination.recovery_point_id)
            assert copied.status is RecoveryPointStatus.COMPLETED
            assert copied.parent_recovery_point_id == recovery_point_id
            check_copy(copied)

        return Run(workflow, result, job_id, check, {"source": recovery_point_id})

    def s3_copy(self) -> Run:
        """A copy of a fresh S3 recovery point (blobs already in the destination are not copied again)."""
        source = self._take_prepared("s3-copy")

        def check_copy(copied: RecoveryPoint) -> None:
            raw = self.destination_s3.get_object(Bucket=self.destination_vault, Key=copied.manifest_key)["Body"]
            manifest = Manifest.model_validate_json(raw.read())
            entries = [e for p in manifest.parts for e in json.loads(self.destination_s3.get_object(
                Bucket=self.destination_vault, Key=p.key)["Body"].read())["entries"]]
            assert manifest.objects == OBJECTS and len(entries) == OBJECTS
            blobs = set(self.keys_of(self.destination_s3, self.destination_vault, "vaults/Default/blobs/"))
            assert {f"vaults/Default/blobs/sha256/{e['sha256']}" for e in entries} <= blobs

        return self._copy("s3-copy", source, check_copy)

    def native_copy(self, kind: str) -> Run:
        """A copy of the module's recovery point of a native type: one artefact in the destination, its own."""
        def check_copy(copied: RecoveryPoint) -> None:
            made = native_artefacts(kind, self.destination_ec2, self.destination_rds, copied.recovery_point_id)
            assert [i for i, _ in made] == [_artefact_id(copied.native_ref)], made

        return self._copy(f"{kind}-copy", self.base_recovery_point(kind), check_copy)

    def ebs_copy(self) -> Run:
        return self.native_copy("ebs")

    def ddb_copy(self) -> Run:
        """A copy of the module's DynamoDB recovery point: the table exported into the destination's vault."""
        def check_copy(copied: RecoveryPoint) -> None:
            raw = self.destination_s3.get_object(Bucket=self.destination_vault, Key=copied.manifest_key)["Body"]
            export = dict(Manifest.model_validate_json(raw.read()).source["export"])  # type: ignore[arg-type]
            assert export["bucket"] == self.destination_vault and export["objects"], export
            keys = set(self.keys_of(self.destination_s3, self.destination_vault))
            assert {f["key"] for f in export["objects"]} <= keys

        return self._copy("ddb-copy", self.base_recovery_point("ddb"), check_copy)

    # -- a plan run: one fresh table selected by ARN, backed up by a nested Backup execution ----------
    def plan_run(self) -> Run:
        from coffer.domain.plans import read_documents
        from coffer_cli.local.sample_plans import plan_service

        n = next(self._n)
        table = f"fault-plan-table-{n}"
        create_sample_table(self.db, table)
        arn = f"arn:aws:dynamodb:{self.twin.region}:{self.twin.account_id}:table/{table}"
        plan = f"fault-plan-{n}"
        plan_service(self.coffer).apply(read_documents([("plan", {
            "BackupPlan": {"BackupPlanName": plan, "Rules": [{
                "RuleName": "hourly", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 * ? * * *)",
                "Lifecycle": {"DeleteAfterDays": 7}}]},
            "Selections": [{"SelectionName": "one-table", "Resources": [arn]}]})]))
        scheduled = self.coffer.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        execution = self.twin.start_execution("PlanRunStateMachine", {"plan_name": plan, "rule_name": "hourly",
                                                                      "scheduled_time": scheduled})
        result = dict(self.twin.wait(execution, timeout=120))

        def check() -> None:
            summary = result["output"]
            assert summary["state"] == "COMPLETED", summary
            counts = summary["counts"]
            assert (counts["selected"], counts["started"], counts["completed"], counts["failed"]) == (1, 1, 1, 0), (
                summary)
            [job] = [j for j in self.coffer.deps.catalog.list_jobs(self.coffer.clock.now()) if j.resource_arn == arn]
            assert job.state is JobState.COMPLETED and job.plan_id
            rp = self.coffer.deps.catalog.get_recovery_point(job.recovery_point_id)
            assert rp.status is RecoveryPointStatus.COMPLETED and rp.rule_name == "hourly"

        run_id = run_id_for(plan, "hourly", datetime.strptime(scheduled, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
        return Run("plan-run", result, "", check, {"table": arn, "plan": plan, "run_id": run_id})

    @property
    def plan_runs(self) -> PlanCatalog:
        return PlanCatalog(self.db, self.coffer.settings.catalog_table)

    # -- the scrub of a vault holding one S3 recovery point (the same vault every run) ------------------
    def verify(self) -> Run:
        from coffer_cli.cli import main

        self._prepare_scrub()
        # the vault's guards as after a deploy and `coffer vault apply-policies` (docs/operations/deploy.md): the
        # scrub compares them with the template, and a clean vault has no finding
        with self.twin.bucket_policies_stored():
            with self.unfaulted():
                assert main(["vault", "apply-policies", "--stack", self.twin.stack_name]) == 0
            execution = self.twin.start_execution("VerifyStateMachine", {"vaults": [SCRUB_VAULT], "deep": False})
            result = dict(self.twin.wait(execution, timeout=120))

        def check() -> None:
            from coffer.adapters.catalog.vaults import VaultCatalog

            record = VaultCatalog(self.db, self.coffer.settings.catalog_table).get_verify_run(
                str(result["arn"]).rsplit(":", 1)[-1])
            assert record is not None, "no record of the verify run"
            summary = result["output"]
            assert summary["problems"] == 0 and not summary["findings"] and summary["items"] >= 3, summary

        return Run("verify", result, "", check)

    def _prepare_scrub(self) -> None:
        if self._scrub_ready:
            return
        from coffer_cli.cli import main

        with self.unfaulted():
            assert main(["vault", "create", SCRUB_VAULT, "--stack", self.twin.stack_name]) == 0
            token = "scrub-base"
            done = self.coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{self.fresh_bucket()}",
                                             "IdempotencyToken": token, "BackupVaultName": SCRUB_VAULT})
        assert done["status"] == "SUCCEEDED", done
        self._scrub_ready = True

    # -- the lifecycle sweep (an EBS recovery point due for cold storage, one due for expiry) -------------
    def _aged(self, recovery_point_id: str, *fields: str) -> RecoveryPoint:
        """The recovery point as if its lifecycle dates had come (the test's stand-in for the days passing)."""
        catalog = self.coffer.deps.catalog
        past = self.coffer.clock.now() - timedelta(days=1)
        aged = catalog.get_recovery_point(recovery_point_id).model_copy(update=dict.fromkeys(fields, past))
        catalog.put_recovery_point(aged)
        return aged

    def _prepare_sweep(self) -> None:
        made = []
        for _ in range(2):
            run = self.ebs_backup()
            assert run.status == "SUCCEEDED", run.result
            made.append(self.job(run.job_id).recovery_point_id)
        due_cold = self._aged(made[0], "cold_at")
        due_gone = self._aged(made[1], "delete_at", "retain_until")
        self._prepared.setdefault("sweep", []).append((due_cold, due_gone))

    def sweep(self) -> Run:
        due_cold, due_gone = self._take_prepared("sweep")
        execution = self.twin.start_execution("SweepStateMachine", {})
        result = dict(self.twin.wait(execution, timeout=180))

        def check() -> None:
            catalog = self.coffer.deps.catalog
            cold = catalog.get_recovery_point(due_cold.recovery_point_id)
            gone = catalog.get_recovery_point(due_gone.recovery_point_id)
            assert cold.storage_class is StorageClass.COLD, cold
            assert (gone.status, gone.storage_class) == (RecoveryPointStatus.EXPIRED, StorageClass.DELETED), gone
            tiers = self.ec2.describe_snapshot_tier_status(Filters=[{"Name": "snapshot-id", "Values": [
                (due_cold.native_ref or "").rsplit("/", 1)[-1]]}])["SnapshotTierStatuses"]
            assert [t["StorageTier"] for t in tiers] == ["archive"], tiers
            assert not self.snapshots(self.ec2, recovery_point=due_gone.recovery_point_id)
            record = SweepRecords(self.db, self.coffer.settings.catalog_table).get_run(
                str(result["arn"]).rsplit(":", 1)[-1])
            assert record["state"] == "COMPLETED", record

        return Run("sweep", result, "", check, {"prepared": (due_cold, due_gone)})

    # -- the ColdStorage workflow of one S3 recovery point whose blobs no warm one needs ----------------
    def _prepare_cold_storage(self) -> None:
        run = self.s3_backup()
        assert run.status == "SUCCEEDED", run.result
        rp = self.recovery_point_of(run.job_id)
        past = (self.coffer.clock.now() - timedelta(days=1)).date()
        for blob in self.manifest_blobs(rp.recovery_point_id):
            self.coffer.deps.vault.set_tags(blob, warm_tags(past))  # as if its warm-until had passed
        cold = rp.model_copy(update={"storage_class": StorageClass.COLD})
        self.coffer.deps.catalog.put_recovery_point(cold)
        self._prepared.setdefault("cold-storage", []).append(cold)

    def cold_storage(self) -> Run:
        rp = self._take_prepared("cold-storage")
        execution = self.coffer.deps.tiering.start(rp)
        result = dict(self.twin.wait(execution, timeout=120))

        def check() -> None:
            blobs = self.manifest_blobs(rp.recovery_point_id)
            tiers = {blob: self.coffer.deps.vault.tags_of(blob).get(TIER_TAG) for blob in blobs}
            assert len(blobs) == OBJECTS and set(tiers.values()) == {"cold"}, tiers

        return Run("cold-storage", result, "", check)

    # -- running a workflow -------------------------------------------------------------------------------
    def run(self, workflow: str) -> Run:
        kind, _, action = workflow.partition("-")
        if kind in NATIVE_KINDS or workflow == "ddb-copy":
            return {"backup": self.native_backup, "restore": self.native_restore,
                    "copy": self.native_copy if kind != "ddb" else lambda _: self.ddb_copy()}[action](kind)
        return {"s3-backup": self.s3_backup, "s3-restore": self.s3_restore, "ddb-backup": self.ddb_backup,
                "ddb-restore": self.ddb_restore, "ebs-backup": self.ebs_backup, "ebs-restore": self.ebs_restore,
                "s3-copy": self.s3_copy, "ebs-copy": self.ebs_copy, "plan-run": self.plan_run,
                "verify": self.verify, "sweep": self.sweep, "cold-storage": self.cold_storage}[workflow]()

    def prepare(self, workflow: str) -> None:
        """Make, without faults, what the next run of `workflow` reads, so that a run's AWS calls are its own."""
        with self.unfaulted():
            # also what happens once per stack (the Default vault's record made on first use)
            kind = workflow.split("-")[0]
            self.base_recovery_point("ddb" if kind in ("ddb", "plan") else kind
                                     if kind in ("s3", *NATIVE_KINDS) else "s3")
            if workflow == "s3-copy":
                run = self.s3_backup()
                assert run.status == "SUCCEEDED", run.result
                self._prepared.setdefault(workflow, []).append(self.job(run.job_id).recovery_point_id)
            if workflow.endswith("copy"):
                self.destination  # noqa: B018 - deployed now, not inside a faulted run
            if workflow == "verify":
                self._prepare_scrub()
            if workflow == "sweep":
                self._prepare_sweep()
            if workflow == "cold-storage":
                self._prepare_cold_storage()

    def cold_start(self) -> None:
        """Every function starts cold at its next invocation, so a run makes the calls a warm container skips
        (a copy's destination, resolved once per container: AssumeRole, DescribeStacks) and they can fail too."""
        self.twin.cold_start()

    def _take_prepared(self, workflow: str) -> Any:
        if not self._prepared.get(workflow):
            self.prepare(workflow)
        return self._prepared[workflow].pop(0)

    @contextmanager
    def unfaulted(self) -> Iterator[None]:
        """Faults set aside for the block (setting up what a faulted run reads)."""
        saved = self.faults.faults
        self.faults.clear()
        try:
            yield
        finally:
            for fault in saved:
                self.faults.add(fault)

    # -- what can fail: derived from the ASL and from a clean run -------------------------------------
    def steps(self, workflow: str, cold: bool = False) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
        """(Task state -> function of the Task states the workflow visits, [(caller, service, operation)] of
        every AWS call its handlers and Step Functions make), from the ASL and a fault-free run. The number
        of attempts of each in that run is kept in ``self.attempts``."""
        machine = MACHINES[workflow]
        tasks: dict[str, str] = {}
        for name in (machine, *NESTED.get(machine, ())):  # a nested workflow's states keep their own names
            nested = asl_task_functions(json.loads((ROOT / "statemachines" / f"{name}.asl.json").read_text()))
            tasks.update({(state if name == machine else f"{name}:{state}"): f for state, f in nested.items()})
        with self.unfaulted():
            self.prepare(workflow)
            if cold:  # the run to be faulted starts cold too: the calls a warm container skips are counted
                self.cold_start()
            with CallRecorder() as calls:
                run = self.run(workflow)
        assert run.status == "SUCCEEDED", (run.result, self.failed_tasks(str(run.result["arn"])))
        entered = {e["stateEnteredEventDetails"]["name"] for e in self.twin.history(str(run.result["arn"]))
                   if e["type"] == "TaskStateEntered"}
        # NotifyFunction runs beside the workflow (EventBridge invokes it with each job event, asynchronously): its
        # calls are not the workflow's steps (docs/operations/notifications.md)
        self.attempts = Counter((c.caller, c.service, c.operation) for c in calls.snapshot()
                                if c.caller not in (DRIVER, "NotifyFunction"))
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
        machine = MACHINES[workflow]
        definition = json.loads((ROOT / "statemachines" / f"{machine}.asl.json").read_text())
        states, tasks = definition["States"], asl_task_functions(definition)
        ending = {"restore": "CompleteRestore", "backup": "CompleteBackup", "copy": "CompleteCopy",
                  "planrun": "CompletePlanRun", "verify": "CompleteVerify"}[machine]
        after: set[str] = set()
        state = states[ending].get("Next")
        while state and state not in after:
            after.add(state)
            state = states[state].get("Next")
        return {tasks[name] for name in after if name in tasks}

    def failed_tasks(self, execution_arn: str) -> list[str]:
        """The errors of the tasks that failed in an execution (its history), to say why it failed."""
        found, state = [], ""
        for event in self.twin.history(execution_arn):
            state = event.get("stateEnteredEventDetails", {}).get("name", state)
            details = (event.get("taskFailedEventDetails") or event.get("executionFailedEventDetails")
                       or event.get("mapRunFailedEventDetails"))
            if details:
                found.append(f"{state}: {event['type']} {details.get('error')}: {str(details.get('cause', ''))[:300]}")
        return found

    def physical_name(self, logical_id: str) -> str:
        return self.twin.physical_id(logical_id).rsplit(":", 1)[-1]

    # -- the catalog and what is left behind ----------------------------------------------------------
    def job(self, job_id: str) -> Job:
        return self.coffer.deps.catalog.get_job(job_id)

    def recovery_point_of(self, job_id: str) -> RecoveryPoint:
        return self.coffer.deps.catalog.get_recovery_point(self.job(job_id).recovery_point_id)

    def catalog(self, db: Any = None, table: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        db, table = db or self.db, table or self.coffer.settings.catalog_table
        for page in db.get_paginator("scan").paginate(TableName=table):
            items.extend(page["Items"])
        return items

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        return self.keys_of(self.s3, bucket, prefix)

    @staticmethod
    def keys_of(s3: Any, bucket: str, prefix: str = "") -> list[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    @staticmethod
    def snapshots(ec2: Any, volume_id: str | None = None, recovery_point: str | None = None) -> list[dict[str, Any]]:
        """Snapshots of this account, of a volume or tagged with a recovery point id (any, when neither)."""
        filters = [{"Name": "volume-id", "Values": [volume_id]}] if volume_id else []
        filters += [{"Name": f"tag:{TAG_RECOVERY_POINT}", "Values": [recovery_point]}] if recovery_point else []
        filters += [] if filters else [{"Name": "tag-key", "Values": [TAG_RECOVERY_POINT]}]
        return list(ec2.describe_snapshots(OwnerIds=["self"], Filters=filters)["Snapshots"])

    def left_behind(self) -> list[str]:
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
                # (what the lifecycle sweep did since: expiring it, or finishing a failed job's leftovers)
                gone = {RecoveryPointStatus.DELETING, RecoveryPointStatus.EXPIRED}
                allowed = {JobState.COMPLETED: {RecoveryPointStatus.COMPLETED, *gone},
                           JobState.PARTIAL: {RecoveryPointStatus.PARTIAL, *gone},
                           JobState.FAILED: {None, *gone},
                           JobState.ABORTED: {None, *gone},
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
        # (staging copies under staging/ are not checked: CopyBatch leaves them to the work bucket's expire-staging
        # lifecycle rule, a day - tests/integration/test_object_costs.py holds the rule)
        found += [f"copy quota {i['pk']['S']} held by {sorted(i['holders']['M'])}" for i in items
                  if i["sk"]["S"] == "QUOTA" and i.get("holders", {}).get("M")]
        runs = [PlanRun.model_validate_json(i["doc"]["S"]) for i in items
                if i["pk"]["S"].startswith("PLANRUN#") and i["sk"]["S"] == "RUN"]
        found += [f"plan run {run.run_id} left {run.state}" for run in runs if run.state is RunState.RUNNING]
        copies = [job for job in jobs if job.kind is JobKind.COPY and job.destination is not None]
        if self._destination is None:
            assert not copies, "copy jobs ran before the destination was deployed"
            return found + self._snapshots_left_behind(self.ec2, self.rds, rps)
        destination = {rp.recovery_point_id: rp for rp in (
            RecoveryPoint.model_validate_json(i["doc"]["S"])
            for i in self.catalog(self.destination_db, self.destination_table) if i["sk"]["S"] == "RP")}
        for job in copies:
            assert job.destination is not None
            copied = destination.get(job.destination.recovery_point_id)
            status = copied.status if copied else None
            allowed = {JobState.COMPLETED: {RecoveryPointStatus.COMPLETED}}.get(
                job.state, {None, RecoveryPointStatus.DELETING})
            if job.state.terminal and status not in allowed:
                found.append(f"copy job {job.job_id} ended {job.state} with its copy {status} in the destination")
        for key in self.keys_of(self.destination_s3, self.destination_vault):
            if "/recovery-points/" in key and key.split("/recovery-points/")[1].split("/")[0] not in destination:
                found.append(f"destination vault object {key} of no recovery point the destination catalogues")
        return (found + self._snapshots_left_behind(self.ec2, self.rds, rps)
                + self._snapshots_left_behind(self.destination_ec2, self.destination_rds, destination))

    @staticmethod
    def _snapshots_left_behind(ec2: Any, rds: Any, rps: dict[str, RecoveryPoint]) -> list[str]:
        """Artefacts Coffer made (EBS snapshots, AMIs, DB and cluster snapshots tagged with a recovery point id)
        that no recovery point of that region's catalog owns: a COMPLETED/PARTIAL one owns its native_ref (an
        AMI's snapshots with it) only; a DELETING one (what a failed job left, for the sweeper) owns what carries
        its id."""
        region = ec2.meta.region_name
        found, in_images = [], {}
        for kind in ("ec2", "rds", "aurora"):
            for artefact, _, tags in tagged_artefacts(kind, ec2, rds):
                rp = rps.get(tags[TAG_RECOVERY_POINT])
                ref = _artefact_id(rp.native_ref) if rp else ""
                if kind == "ec2" and rp is not None and ref == artefact:
                    image = ec2.describe_images(ImageIds=[artefact])["Images"][0]
                    in_images.update({m["Ebs"]["SnapshotId"]: rp for m in image.get("BlockDeviceMappings", [])
                                      if "Ebs" in m and "SnapshotId" in m["Ebs"]})
                owned = rp is not None and (ref == artefact or (rp.status is RecoveryPointStatus.DELETING and not ref))
                if not owned:
                    found.append(f"{kind} artefact {artefact} in {region} of recovery point {tags[TAG_RECOVERY_POINT]} "
                                 f"({rp.status if rp else 'not catalogued'}) owned by none")
        for snapshot in World.snapshots(ec2):
            tags = {t["Key"]: t["Value"] for t in snapshot.get("Tags", [])}
            rp = rps.get(tags[TAG_RECOVERY_POINT])
            ref = _artefact_id(rp.native_ref) if rp else ""
            owned = rp is not None and (ref == snapshot["SnapshotId"] or in_images.get(snapshot["SnapshotId"]) is rp
                                        or (rp.status is RecoveryPointStatus.DELETING and not ref))
            if not owned:
                found.append(f"snapshot {snapshot['SnapshotId']} in {region} of recovery point "
                             f"{tags[TAG_RECOVERY_POINT]} ({rp.status if rp else 'not catalogued'}) owned by none")
        return found

    def blobs(self) -> set[str]:
        return {k for k in self.keys(self.coffer.settings.vault_bucket) if "/blobs/" in k}

    def manifest_blobs(self, recovery_point_id: str) -> set[str]:
        rp = self.coffer.deps.catalog.get_recovery_point(recovery_point_id)
        manifest = Manifest.model_validate_json(self.coffer.deps.vault.get_bytes(rp.manifest_key or ""))
        entries = [e for p in manifest.parts for e in self.coffer.deps.vault.get_json(p.key)["entries"]]
        return {f"vaults/{rp.vault_name}/blobs/sha256/{e['sha256']}" for e in entries}


def _artefact_id(native_ref: str | None) -> str:
    """The id in an artefact's ARN: snap-..., ami-..., coffer-<recovery point> (an RDS snapshot's name)."""
    return (native_ref or "").rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def tagged_artefacts(kind: str, ec2: Any, rds: Any) -> list[tuple[str, str, dict[str, str]]]:
    """(id, state, tags) of every artefact of a native type that carries a recovery point id, in one region."""
    found: list[tuple[str, str, dict[str, str]]] = []
    if kind == "ebs":
        for snapshot in World.snapshots(ec2):
            state = "available" if snapshot["State"] == "completed" else snapshot["State"]
            found.append((snapshot["SnapshotId"], state, {t["Key"]: t["Value"] for t in snapshot.get("Tags", [])}))
    elif kind == "ec2":
        images = ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag-key", "Values": [TAG_RECOVERY_POINT]}])
        found += [(i["ImageId"], i["State"], {t["Key"]: t["Value"] for t in i.get("Tags", [])})
                  for i in images["Images"]]
    else:
        listed = rds.describe_db_snapshots()["DBSnapshots"] if kind == "rds" else \
            rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
        for snapshot in listed:
            arn = snapshot["DBSnapshotArn" if kind == "rds" else "DBClusterSnapshotArn"]
            tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}
            if TAG_RECOVERY_POINT in tags:
                found.append((_artefact_id(arn), snapshot["Status"], tags))
    return found


def native_artefacts(kind: str, ec2: Any, rds: Any, recovery_point_id: str) -> list[tuple[str, str]]:
    """(id, state) of the artefacts of a native type tagged with this recovery point id."""
    return [(i, state) for i, state, tags in tagged_artefacts(kind, ec2, rds)
            if tags.get(TAG_RECOVERY_POINT) == recovery_point_id]


@pytest.fixture(scope="module")
def world(twins: Twins) -> Iterator[World]:
    with twins.fresh(PARAMETERS) as coffer, FaultInjector(backoff_scale=BACKOFF_SCALE) as faults:
        yield World(coffer, faults)


@pytest.fixture(autouse=True)
def _no_fault_outlives_its_test(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "world" in request.fixturenames:
        request.getfixturevalue("world").faults.clear()
