"""Copy jobs: one COMPLETED recovery point into a vault of another region or account (or another vault here).

The Copy workflow (statemachines/copy.asl.json) runs these steps:

- `start`: the job, once per idempotency token (every refusal names its field before anything is written);
  a hold on the source recovery point (an expiry never deletes what a copy reads: the restore lease of
  ports/restore_leases.py, taken by the copy job); a slot of the destination's copy quota (EBS, EC2, RDS,
  Aurora), or PENDING and the workflow waits and asks again; then the copy is started by its method
  (domain/copies.py): the native copy in the destination, after the source shared the artefact across
  accounts; for S3 nothing yet (the Distributed Map copies one manifest part per child); for DynamoDB the
  table's export as of the recovery point's time.
- `check`: polls a native copy or the export (Wait states, never a sleeping Lambda).
- `copy_part` (copy_batches.py): one Distributed Map child: one manifest part (its blobs, then the part under
  the copy's id) or one export file, into the destination vault, locked and encrypted as the destination says.
- `complete`: the manifest of the copy in the destination vault (Object-Locked), then its recovery point in
  the destination catalog (`parent_recovery_point_id`: the source), then - one transaction - the job
  COMPLETED and its quota slot given back; the hold on the source ends.
A Catch ends the job through services/jobs_common.fail_job, which gives the slot back in the same write.

The destination is reached through its copy role (ports/destinations.py); everything written there is
written with that role's credentials. What the destination reads of the source (S3 blobs, export files, EBS and
RDS snapshots encrypted with the source's keys) the source shares first: snapshot permissions (the adapters'
`share_for_copy`) and KMS grants for the destination (role or account) on the keys that encrypt it
(copy_access.py). Whatever ends the job withdraws both (`withdraw_access`).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from coffer.domain.audit import creation_details
from coffer.domain.clock import Clock
from coffer.domain.copies import (
    CopyDestination,
    CopyMethod,
    CopyPollResult,
    CopyScope,
    CopyStartResult,
    QuotaKind,
    StartCopyJobRequest,
    method_for,
    quota_key,
    quota_kind,
    same_vault_problem,
    scope_of,
)
from coffer.domain.errors import (
    CofferError,
    CompletionWindowExceeded,
    ConcurrentUpdate,
    IntegrityError,
    InvalidInput,
    NotFound,
)
from coffer.domain.input_rules.gates import check_copy_request
from coffer.domain.job_ids import copy_recovery_point_id, job_id_for
from coffer.domain.jobs import Job, JobKind, JobProgress, JobState, Transition, copy_target
from coffer.domain.manifest import Manifest, PartRef, VaultLayout, sha256_hex
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus, StorageClass
from coffer.domain.steps import JobSummary
from coffer.ports.catalog import Catalog, DuplicateRequest
from coffer.ports.destinations import Destination, Destinations
from coffer.ports.quotas import SlotQuotas
from coffer.ports.resource_registry import ResourceAdapters
from coffer.ports.resources import Capability, CopyTarget, require
from coffer.ports.restore_leases import RestoreLeaseStore
from coffer.ports.table_exports import TableExports
from coffer.ports.vault import VaultStore
from coffer.ports.work_area import WorkArea
from coffer.services.audit_log import AuditLog
from coffer.services.copy_access import CopyAccess
from coffer.services.copy_batches import destination_seal, destination_vaults
from coffer.services.jobs_common import reannounce_retried, summary
from coffer.services.large_objects import (
    unfinished_deferred,
)
from coffer.services.pinned_reads import pinned_manifest
from coffer.settings import Settings

IDEMPOTENCY_TTL = timedelta(days=7)
#: how long a copy may wait for a quota slot before it ends EXPIRED
COPY_START_WINDOW = timedelta(hours=24)
#: how long a started copy may run before it ends ABORTED (AWS's cross-region snapshot copies take hours)
COPY_COMPLETE_WINDOW = timedelta(days=7)


def export_prefix(job_id: str) -> str:
    """Where a DynamoDB copy's export lands in the source's work bucket (ExportTableToPointInTime's S3Prefix)."""
    return f"jobs/{job_id}/export"


class CopyJobs:
    def __init__(self, catalog: Catalog, vault: VaultStore, work: WorkArea,
                 resources: ResourceAdapters, leases: RestoreLeaseStore, quotas: SlotQuotas,
                 destinations: Destinations, access: CopyAccess, exports: TableExports,
                 settings: Settings, clock: Clock) -> None:
        self._catalog = catalog
        self._vault = vault
        self._work = work
        self._resources = resources
        self._leases = leases
        self._quotas = quotas
        self._resolver = destinations
        #: what the copy shares with its destination and takes back when it ends
        self.access = access
        self._exports = exports
        self._settings = settings
        self._clock = clock

    # ---- start ----------------------------------------------------------------------------------
    def start(self, request: StartCopyJobRequest, event_id: str, execution_arn: str | None,
              requested_at: datetime | None = None) -> CopyStartResult:
        """Create the copy job (once per idempotency token) and start it, or queue it for a quota slot.

        A second delivery of the same request returns the first job, marked duplicate; the workflow's own
        retry (same execution) carries on with the job it created, or asks again for a slot."""
        now = self._clock.now()
        token = request.idempotency_token or event_id
        resumed = self._resumed(job_id_for(token), execution_arn)
        if resumed is not None:
            return resumed
        rp = self._catalog.get_recovery_point(request.recovery_point_id)
        check_copy_request(request, rp, self._settings.home)  # the input rules, before any write
        address = request.destination
        region = self._settings.region
        problems = []
        if rp.status is not RecoveryPointStatus.COMPLETED:
            problems.append(f"RecoveryPointArn: recovery point {rp.recovery_point_id} is {rp.status}; only COMPLETED "
                            "recovery points are copied")
        if rp.storage_class is StorageClass.COLD:
            # as AWS: archived EBS snapshots cannot be copied; archived blobs would need hours of retrieval
            problems.append(f"RecoveryPointArn: recovery point {rp.recovery_point_id} is in cold storage; copies are "
                            "made from warm recovery points (restore it, or copy a newer one)")
        if request.source_backup_vault_name and request.source_backup_vault_name != rp.vault_name:
            problems.append(f"SourceBackupVaultName: recovery point {rp.recovery_point_id} is in vault "
                            f"{rp.vault_name}, not {request.source_backup_vault_name}")
        same = same_vault_problem(rp.vault_name, region, self._resolver.own_account, address)
        if same:
            problems.append(same)
        if problems:
            raise InvalidInput(problems)
        scope = scope_of(region, self._resolver.own_account, address)
        method = method_for(rp.resource_type)
        if method is CopyMethod.NATIVE:
            require(self._resources.adapter(rp.resource_type),
                    Capability.COPY_TO_ACCOUNT if scope is CopyScope.CROSS_ACCOUNT else Capability.COPY_TO_REGION)
        destination = self._resolver.resolve(address)
        self._admit(destination, request, now)
        job_id = job_id_for(token)
        job = Job(
            job_id=job_id, kind=JobKind.COPY, resource_arn=rp.resource_arn, resource_type=rp.resource_type,
            vault_name=rp.vault_name, recovery_point_id=rp.recovery_point_id, created_at=now,
            start_by=(requested_at or now) + COPY_START_WINDOW, lifecycle=request.lifecycle,
            recovery_point_tags=dict(rp.tags), plan_id=rp.plan_id, rule_name=rp.rule_name, idempotency_token=token,
            execution_arn=execution_arn,
            destination=CopyDestination(vault_arn=address.arn, region=address.region, account_id=address.account_id,
                                        vault_name=address.vault_name, scope=scope, method=method,
                                        recovery_point_id=copy_recovery_point_id(self._resolver.own_account, job_id)),
            history=(Transition(state=JobState.CREATED, at=now, reason=f"copy to {address.arn} requested"),),
        )
        fingerprint = sha256_hex(request.model_dump_json(exclude={"idempotency_token"}).encode())
        try:
            job = self._catalog.create_job(job, fingerprint, take_lease=False,
                                           ttl=int((now + IDEMPOTENCY_TTL).timestamp()))
        except DuplicateRequest as duplicate:
            job = duplicate.job
            if job.execution_arn != execution_arn or execution_arn is None:
                return CopyStartResult(job_id=job.job_id, duplicate=True, next="done")
            reannounce_retried(self._catalog, job)
        if job.state in (JobState.CREATED, JobState.PENDING):
            job = self._run(job, rp, destination)
        return self._next_step(job)

    def _resumed(self, job_id: str, execution_arn: str | None) -> CopyStartResult | None:
        """This execution asking again for its own job (the workflow's retry, or its turn for a quota slot):
        carry on from where the job is, without checking the request again."""
        if execution_arn is None:
            return None
        try:
            job = self._catalog.get_job(job_id)
        except NotFound:
            return None
        if job.execution_arn != execution_arn:
            return None  # another execution's job: create_job tells a duplicate from a conflict
        reannounce_retried(self._catalog, job)
        if job.state in (JobState.CREATED, JobState.PENDING):
            target = copy_target(job)
            job = self._run(job, self._catalog.get_recovery_point(job.recovery_point_id),
                            self._resolver.resolve(target.address))
        return self._next_step(job)

    def _admit(self, destination: Destination, request: StartCopyJobRequest, now: datetime) -> None:
        """The destination vault exists and the copy's retention fits its vault lock (refused by field)."""
        try:
            destination_vaults(destination, self._clock).admit(destination.address.vault_name, request.lifecycle, now)
        except InvalidInput as error:
            where = f"in {destination.address.region} of account {destination.address.account_id}"
            raise InvalidInput([p.replace("BackupVaultName:", "DestinationBackupVaultArn:").replace(
                "does not exist", f"does not exist {where}") for p in error.problems]) from None

    def _run(self, job: Job, rp: RecoveryPoint, destination: Destination) -> Job:
        now = self._clock.now()
        if now > job.start_by:
            return self._end(job, JobState.EXPIRED, f"no copy slot by {job.start_by.isoformat()}")
        try:
            # Rule: an expiry never deletes what a copy reads; the hold ends when the job does.
            self._leases.begin_restore(rp.recovery_point_id, job.job_id)
        except CofferError as error:
            self._catalog.save_job(job.to(JobState.FAILED, now, f"{type(error).__name__}: {error}"))
            raise
        target = job.destination
        assert target is not None
        key = quota_key(job.resource_type, target.address)
        if key is not None:
            limit = self._limit(key)
            holders = self._quotas.acquire(key, job.job_id, limit, now, ended=self._ended)
            if holders is not None:
                if job.state is JobState.CREATED:
                    job = self._catalog.save_job(job.to(JobState.PENDING, now, (
                        f"waiting for a copy slot: {len(holders)} of {limit} {quota_kind(key)} in progress in "
                        f"{target.region} of account {target.account_id}")))
                return job
            if target.quota_key != key:
                # Recorded at once: whatever ends this job from now on gives the slot back in the same write.
                job = self._catalog.save_job(job.with_changes(destination=target.model_copy(update={"quota_key": key})))
        try:
            job = self._start_method(job, rp, destination)
        except CofferError as error:
            # (re-read: recording a key to grant on saved the job)
            self._end(self._catalog.get_job(job.job_id), JobState.FAILED, f"{type(error).__name__}: {error}")
            raise
        running = job.to(JobState.RUNNING, now, f"copy to {target.vault_arn} started").with_changes(
            complete_by=now + COPY_COMPLETE_WINDOW)
        return self._catalog.save_job(running)

    def _start_method(self, job: Job, rp: RecoveryPoint, destination: Destination) -> Job:
        target = job.destination
        assert target is not None
        manifest = pinned_manifest(self._vault, rp)
        job = job.with_changes(source=dict(manifest.source))
        if target.method is CopyMethod.NATIVE:
            if target.scope is CopyScope.CROSS_ACCOUNT:
                self._resources.adapter(job.resource_type).share_for_copy(rp, target.account_id)
                job = self.access.share_key(manifest.source.get("kms_key_id"), f"arn:{destination.address.partition}:"
                                      f"iam::{target.account_id}:root", job)
            copier = destination.ports.resources.adapter(job.resource_type)
            native_ref = copier.start_copy(rp, CopyTarget(
                recovery_point_id=target.recovery_point_id, region=target.region,
                account_id=target.account_id if target.scope is CopyScope.CROSS_ACCOUNT else None,
                kms_key_arn=destination_vaults(destination, self._clock).get(target.vault_name).key_arn))
            return job.with_changes(native_ref=native_ref)
        # The destination role reads the source's vault objects (or export files) itself: a KMS grant on the key
        # that encrypts them (the bucket policies let the copy roles named in CopyDestinationRoleArns read).
        if target.method is CopyMethod.OBJECTS:
            job = self.access.share_key(rp.encryption_key_arn, destination.role_arn, job)
            return job.with_changes(progress=JobProgress(batches_total=len(manifest.parts)))
        job = self.access.share_key(self._settings.vault_key_arn, destination.role_arn, job)
        export_arn = self._exports.start_export(rp, self._settings.work_bucket, export_prefix(job.job_id), job.job_id,
                                                self._clock.now())
        return job.with_changes(native_ref=export_arn, destination=target.model_copy(
            update={"export_prefix": export_prefix(job.job_id) + "/"}))

    def _next_step(self, job: Job) -> CopyStartResult:
        target = job.destination
        if job.state is JobState.PENDING:
            return CopyStartResult(job_id=job.job_id, next="queued", wait_seconds=self._settings.poll_seconds)
        if job.state is not JobState.RUNNING or target is None:
            return CopyStartResult(job_id=job.job_id, next="done")
        if target.method is CopyMethod.OBJECTS:
            return CopyStartResult(job_id=job.job_id, next="objects",
                                   items_prefix=VaultLayout.parts_prefix(job.vault_name, job.recovery_point_id))
        return CopyStartResult(job_id=job.job_id, next="native", wait_seconds=self._settings.poll_seconds)

    # ---- poll -----------------------------------------------------------------------------------
    def check(self, job_id: str) -> CopyPollResult:
        """A native copy's or an export's progress. A finished export's files are what the Map copies next."""
        now = self._clock.now()
        job = self._catalog.get_job(job_id)
        target = copy_target(job)
        wait = self._settings.poll_seconds
        if job.state.terminal:
            return CopyPollResult(job_id=job_id, done=True, next="complete")
        if target.method is CopyMethod.OBJECTS:
            return CopyPollResult(job_id=job_id, done=True, next="objects",
                                  items_prefix=VaultLayout.parts_prefix(job.vault_name, job.recovery_point_id))
        if target.method is CopyMethod.NATIVE:
            copier = self._resolver.resolve(target.address).ports.resources.adapter(job.resource_type)
            status = copier.copy_status(job.native_ref or "")
        else:
            status = self._exports.export_status(job.native_ref or "")
        if not status.done:
            if job.complete_by and now > job.complete_by:
                raise CompletionWindowExceeded(f"copy job {job_id} did not complete by {job.complete_by.isoformat()}")
            return CopyPollResult(job_id=job_id, done=False, next="wait", wait_seconds=wait)
        if target.method is CopyMethod.NATIVE:
            return CopyPollResult(job_id=job_id, done=True, next="complete")
        files = self._work.listing(target.export_prefix or "")
        if not files:
            raise IntegrityError(f"export {job.native_ref} is COMPLETED but wrote no files under "
                                 f"s3://{self._work.bucket}/{target.export_prefix}")
        export = {"export_arn": job.native_ref, "item_count": status.details.get("item_count", 0),
                  "export_time": job.source.get("export", {}).get("export_time") or status.details.get("export_time"),
                  "files": len(files)}
        if job.source.get("export") != export:
            job = self._catalog.save_job(job.with_changes(
                source={**job.source, "export": export},
                progress=job.progress.model_copy(update={"batches_total": len(files)})))
        return CopyPollResult(job_id=job_id, done=True, next="files", items_prefix=target.export_prefix)

    # ---- complete -------------------------------------------------------------------------------
    def complete(self, job_id: str) -> JobSummary:
        """The copy's manifest (Object-Locked) and recovery point in the destination, then the job COMPLETED
        with its quota slot given back in the same write. A retry after any step finishes what is left."""
        now = self._clock.now()
        job = self._catalog.get_job(job_id)
        if job.state.terminal:
            # a retry whose ending write went through unanswered: the lease release and the job event it owed
            self._leases.end_restore(job.recovery_point_id, job.job_id)
            self._catalog.announce_again(job)
            return summary(job)
        target = copy_target(job)
        destination = self._resolver.resolve(target.address)
        catalog = destination.ports.catalog
        try:
            rp = catalog.get_recovery_point(target.recovery_point_id)
        except NotFound:
            rp = self._write_copy(job, destination, catalog, now)
        if rp.job_id != job.job_id:
            raise IntegrityError(f"recovery point {rp.recovery_point_id} in {target.vault_arn} was made by job "
                                 f"{rp.job_id}, not {job.job_id}")
        job = self._end(job.with_changes(progress=job.progress.model_copy(update={"bytes": rp.backup_size_bytes})),
                        JobState.COMPLETED, f"copied to {target.vault_arn} as recovery point {rp.recovery_point_id}")
        return summary(job)

    def _write_copy(self, job: Job, destination: Destination, catalog: Catalog, now: datetime) -> RecoveryPoint:
        target = copy_target(job)
        vault = destination.ports.vault
        seal = destination_seal(job, destination, self._clock)
        source: dict[str, Any] = {**job.source, "copied_from": {
            "recovery_point_id": job.recovery_point_id, "vault": job.vault_name,
            "region": self._settings.region, "account_id": self._resolver.own_account}}
        parts: tuple[PartRef, ...] = ()
        objects = size = 0
        native_ref: str | None = None
        records = list(self._catalog.list_parts(job.job_id))
        # a deferred blob's own result (the part-range fan-out): all or nothing, as the copy of any blob
        unfinished = unfinished_deferred(records)
        records = [r for r in records if "fanout" not in r]
        if unfinished:
            raise IntegrityError(f"{len(unfinished)} object(s) of copy job {job.job_id} were not copied: "
                                 f"{'; '.join(unfinished[:20])}")
        unsealed = [r["pending"] for r in records if "pending" in r and "part" not in r]
        if unsealed:
            raise IntegrityError(f"{len(unsealed)} part(s) of copy job {job.job_id} were not written with their "
                                 f"blobs' destination versions: {'; '.join(unsealed[:20])}")
        expected = job.progress.batches_total or 0
        if target.method is CopyMethod.NATIVE:
            status = destination.ports.resources.adapter(job.resource_type).copy_status(job.native_ref or "")
            if not status.done:
                raise IntegrityError(f"copy {job.native_ref} is not finished")
            size, native_ref = status.size_bytes, job.native_ref
        elif len(records) < expected:
            raise IntegrityError(f"{len(records)} of {expected} parts of copy job {job.job_id} were copied")
        elif target.method is CopyMethod.OBJECTS:
            parts = tuple(sorted((PartRef.model_validate(r["part"]) for r in records if "part" in r),
                                 key=lambda ref: ref.seq))
            objects, size = sum(p.objects for p in parts), sum(p.bytes for p in parts)
        else:
            files = sorted((r["file"] for r in records), key=lambda f: f["key"])
            data = sorted({f["key"].rsplit("/data/", 1)[0] + "/data/" for f in files if "/data/" in f["key"]})
            if len(data) != 1:
                raise IntegrityError(f"export of copy job {job.job_id} has {len(data)} data directories, expected 1")
            source["export"] = {**job.source.get("export", {}), "bucket": destination.settings.vault_bucket,
                                "data_prefix": data[0], "format": "DYNAMODB_JSON", "compression": "GZIP",
                                "objects": files}
            objects, size = len(files), sum(int(f["size"]) for f in files)
        rp = RecoveryPoint(
            recovery_point_id=target.recovery_point_id, vault_name=target.vault_name, resource_arn=job.resource_arn,
            resource_type=job.resource_type, status=RecoveryPointStatus.COMPLETED, creation_date=job.created_at,
            completion_date=now, backup_size_bytes=size, lifecycle=job.lifecycle,
            cold_at=job.lifecycle.cold_at(job.created_at), delete_at=job.lifecycle.delete_at(job.created_at),
            retain_until=seal.retain_until, encryption_key_arn=seal.kms_key_arn, plan_id=job.plan_id,
            rule_name=job.rule_name, job_id=job.job_id, parent_recovery_point_id=job.recovery_point_id,
            manifest_key=VaultLayout.manifest(target.vault_name, target.recovery_point_id), native_ref=native_ref,
            tags=job.recovery_point_tags)
        manifest = Manifest(recovery_point=rp, completed_at=now, source=source, parts=parts, objects=objects)
        written = vault.put_json_locked(rp.manifest_key or "", manifest.model_dump(mode="json"), seal.retain_until,
                                        seal)
        rp = rp.model_copy(update={"manifest_sha256": written.sha256, "manifest_version_id": written.version_id})
        # the destination's audit chain records the copy's manifest (what its `coffer catalog rebuild` believes)
        source_of = {"job_id": job.job_id, "source_recovery_point_id": job.recovery_point_id,
                     "source_vault": job.vault_name, "source_account_id": self._resolver.own_account,
                     "source_region": self._settings.region}
        self._audit_for(destination).append(
            "copy.complete", rp.recovery_point_id, creation_details(rp, seal.mode.value, source_of),
            idempotency_key=f"copy.complete:{job.job_id}:{written.version_id or written.sha256}")
        try:
            catalog.put_recovery_point(rp)
        except ConcurrentUpdate:
            return catalog.get_recovery_point(rp.recovery_point_id)  # a concurrent retry wrote it first
        return rp

    # ---- a copy that fails ----------------------------------------------------------------------
    def withdraw_access(self, job: Job) -> None:
        """What the job shared with its destination, taken back (copy_access.py): before the write that ends it."""
        self.access.withdraw(job)

    def record_left_behind(self, job: Job) -> None:
        """Before FailJob ends a copy job: what it may have written in the destination (manifest parts, export
        files, a snapshot or image copy) recorded there as a DELETING recovery point, as a failed backup's
        leftovers are in the source (jobs_common._left_behind), so the destination's catalog accounts for
        everything in its vault and its sweeper deletes it when it may. Nothing is written there before the copy
        started (RUNNING) or, for a native copy, before it took its quota slot."""
        target = copy_target(job)
        native = target.method is CopyMethod.NATIVE
        if job.state is not JobState.RUNNING and not (native and target.quota_key):
            return
        destination = self._resolver.resolve(target.address)
        seal = destination_seal(job, destination, self._clock)
        left = RecoveryPoint(
            recovery_point_id=target.recovery_point_id, vault_name=target.vault_name, resource_arn=job.resource_arn,
            resource_type=job.resource_type, status=RecoveryPointStatus.DELETING, creation_date=job.created_at,
            retain_until=seal.retain_until, encryption_key_arn=seal.kms_key_arn, plan_id=job.plan_id,
            rule_name=job.rule_name, job_id=job.job_id, parent_recovery_point_id=job.recovery_point_id,
            native_ref=job.native_ref if native else None, tags=job.recovery_point_tags)
        # there already: a retried FailJob recorded it, or the copy's own record (its manifest is written)
        with contextlib.suppress(ConcurrentUpdate):
            destination.ports.catalog.put_recovery_point(left)

    # ---- helpers --------------------------------------------------------------------------------
    def _end(self, job: Job, state: JobState, reason: str) -> Job:
        """What the job shared withdrawn, its terminal state and (same transaction) its quota slot back; then its
        hold ends."""
        self.access.withdraw(job)
        ended = self._catalog.save_job(job.to(state, self._clock.now(), reason),
                                         also=self._quotas.release_for(job))
        self._leases.end_restore(job.recovery_point_id, job.job_id)
        return ended

    def _audit_for(self, destination: Destination) -> AuditLog:
        """The destination stack's audit log, written with the copy role (as everything in the destination)."""
        ports = destination.ports
        return AuditLog(ports.vault_records, ports.vault, destination.settings, self._clock,
                        f"coffer:copy:{self._resolver.own_account}")

    def _limit(self, key: str) -> int:
        s = self._settings
        return s.ebs_copy_quota if quota_kind(key) is QuotaKind.EBS_SNAPSHOT_COPIES else s.rds_copy_quota

    def _ended(self, job_id: str) -> bool:
        try:
            return self._catalog.get_job(job_id).state.terminal
        except NotFound:
            return True

