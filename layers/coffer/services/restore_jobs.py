"""Restore jobs: from a recovery point's manifest (checked against the catalog's checksum) into a new resource.

A restore whose target AWS announces the end of (an EBS volume, an RDS DB instance or cluster: domain/native_waits.py)
is looked at once when it starts, then waits on that event (the Restore workflow's WaitForRestoreEvent, its waiter
keyed by target and job) instead of a poll every PollSeconds; the rest (DynamoDB, EC2 instances, a volume waiting
for its snapshot to come back from the archive tier) keep the poll loop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from coffer.domain.clock import Clock
from coffer.domain.continuous import RESTORE_TIME, USE_LATEST
from coffer.domain.errors import CofferError, InvalidInput, NativeOperationFailed, NotFound, RestoreMismatch
from coffer.domain.input_rules.gates import check_restore_request
from coffer.domain.input_rules.restore_metadata import restore_bucket_problem
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import Job, JobKind, JobState, Transition
from coffer.domain.manifest import Manifest, VaultLayout, sha256_hex
from coffer.domain.native_waits import (
    EVENT_TYPES,
    WAITER_TTL_SECONDS,
    restore_waiter_ref,
    safety_net_seconds,
    waiter_key,
)
from coffer.domain.recovery_points import RecoveryPointStatus
from coffer.domain.requests import StartRestoreJobRequest
from coffer.domain.resources import ResourceType
from coffer.domain.steps import JobSummary, PollResult, StartResult
from coffer.ports.catalog import Catalog, DuplicateRequest
from coffer.ports.resource_registry import ResourceAdapters
from coffer.ports.resources import BackupStrategy
from coffer.ports.restore_leases import RestoreLeaseStore
from coffer.ports.restore_targets import RestoreTargets
from coffer.ports.source_buckets import SourceBuckets
from coffer.ports.vault import VaultStore
from coffer.services.backup_jobs import IDEMPOTENCY_TTL
from coffer.services.continuous import ContinuousBackups, pitr_time
from coffer.services.jobs_common import reannounce_retried, summary
from coffer.services.large_objects import unfinished_deferred
from coffer.services.pinned_reads import pinned_manifest
from coffer.settings import Settings

#: Restore metadata each resource type requires (AWS Backup's key names; the API's parameter names where AWS
#: Backup uses them). Documented in StartRestoreJobRequest.
REQUIRED_METADATA = {
    ResourceType.S3: ("DestinationBucketName",),
    ResourceType.DYNAMODB: ("targetTableName",),
    ResourceType.EBS: (),
    ResourceType.EC2: (),
    ResourceType.RDS: ("DBInstanceIdentifier",),
    ResourceType.AURORA: ("DBClusterIdentifier",),
    ResourceType.DOCUMENTDB: ("DBClusterIdentifier",),
    ResourceType.NEPTUNE: ("DBClusterIdentifier",),
}
#: a continuous recovery point's moment (refused for a snapshot one): services/continuous.py
PITR_METADATA = (RESTORE_TIME, USE_LATEST)
#: ... and the keys each type may be given besides (overrides of the recorded facts). Any other key is refused by
#: name: a misspelt override silently ignored would restore something other than what was asked for.
OPTIONAL_METADATA = {
    ResourceType.S3: ("NewBucket", "DestinationPrefix", "Region", *PITR_METADATA),
    ResourceType.DYNAMODB: PITR_METADATA,
    ResourceType.EBS: ("availabilityZone", "volumeType", "volumeSize", "iops", "throughput", "kmsKeyId"),
    ResourceType.EC2: ("InstanceType", "SubnetId", "SecurityGroupIds", "KeyName"),
    ResourceType.RDS: ("DBInstanceClass", "DBSubnetGroupName", "VpcSecurityGroupIds", *PITR_METADATA),
    ResourceType.AURORA: ("DBSubnetGroupName", "VpcSecurityGroupIds", *PITR_METADATA),
    ResourceType.DOCUMENTDB: ("DBSubnetGroupName", "VpcSecurityGroupIds"),
    ResourceType.NEPTUNE: ("DBSubnetGroupName", "VpcSecurityGroupIds"),
}


def failed_keys(records: list[dict[str, Any]]) -> list[str]:
    """`key (reason)` of each object an S3 restore's parts named failed, or deferred to the part-range fan-out
    (services/large_objects.py) without a result record of its own."""
    failed = [f"{f['key']} ({f['reason']})" for r in records if "fanout" not in r for f in r["failed"]]
    return failed + unfinished_deferred(records)


#: failed keys a FAILED restore's cause names (all of them, up to 1,000, are in the job's failed_keys)
CAUSE_KEYS = 20


def failed_cause(restored: int, objects: int, failed: list[str]) -> str:
    """Why an S3 restore FAILED, naming the first CAUSE_KEYS keys that failed."""
    named = ", ".join(failed[:CAUSE_KEYS]) + (f" and {len(failed) - CAUSE_KEYS} more" if len(failed) > CAUSE_KEYS
                                               else "")
    return f"restored {restored} of {objects} objects; {len(failed)} failed: {named}"


class RestoreJobs:
    def __init__(self, catalog: Catalog, vault: VaultStore, resources: ResourceAdapters, leases: RestoreLeaseStore,
                 continuous: ContinuousBackups, buckets: SourceBuckets, settings: Settings, clock: Clock) -> None:
        self._catalog = catalog
        self._buckets = buckets  # an S3 restore's target bucket, checked before the job exists
        self._vault = vault
        self._resources = resources
        self._leases = leases
        self._continuous = continuous
        self._settings = settings
        self._clock = clock

    def load_manifest(self, recovery_point_id: str) -> Manifest:
        """The manifest as written to the vault (the version the recovery point pins), refused if its bytes differ from
        what the catalog recorded."""
        return pinned_manifest(self._vault, self._catalog.get_recovery_point(recovery_point_id))

    def start(self, request: StartRestoreJobRequest, event_id: str, execution_arn: str | None,
              requested_at: datetime | None = None) -> StartResult:
        now = self._clock.now()
        rp = self._catalog.get_recovery_point(request.recovery_point_id)
        check_restore_request(request, rp.resource_type, self._settings.home)  # the input rules, before any write
        if rp.status not in (RecoveryPointStatus.COMPLETED, RecoveryPointStatus.PARTIAL):
            raise InvalidInput([f"RecoveryPointArn: recovery point {rp.recovery_point_id} is {rp.status}, "
                                "only COMPLETED or PARTIAL ones can be restored"])
        missing = [k for k in REQUIRED_METADATA.get(rp.resource_type, ()) if not request.metadata.get(k)]
        if missing:
            raise InvalidInput([f"Metadata.{k}: required to restore a {rp.resource_type} recovery point"
                                for k in missing])
        known = (*REQUIRED_METADATA.get(rp.resource_type, ()), *OPTIONAL_METADATA.get(rp.resource_type, ()))
        unknown = sorted(set(request.metadata) - set(known))
        if unknown:
            raise InvalidInput([f"Metadata.{k}: not a restore key for {rp.resource_type} "
                                f"(keys: {', '.join(known) or 'none'})" for k in unknown])
        # A continuous recovery point: RestoreTime checked against its window (UseLatestRestorableTime -> now).
        target = self._continuous.restore_target(rp, dict(request.metadata))
        token = request.idempotency_token or event_id
        if rp.resource_type is ResourceType.S3:
            self._check_bucket(target, job_id_for(token))
        job = Job(
            job_id=job_id_for(token), kind=JobKind.RESTORE, resource_arn=rp.resource_arn,
            resource_type=rp.resource_type,
            vault_name=rp.vault_name, recovery_point_id=rp.recovery_point_id, created_at=now,
            start_by=requested_at or now, restore_target=target,
            idempotency_token=token, execution_arn=execution_arn,
            history=(Transition(state=JobState.CREATED, at=now, reason="restore requested"),),
        )
        fingerprint = sha256_hex(request.model_dump_json(exclude={"idempotency_token"}).encode())
        try:
            job = self._catalog.create_job(job, fingerprint, take_lease=False,
                                       ttl=int((now + IDEMPOTENCY_TTL).timestamp()))
        except DuplicateRequest as duplicate:
            job = duplicate.job
            if job.execution_arn != execution_arn or execution_arn is None:
                return StartResult(job_id=job.job_id, duplicate=True, next="done")
            reannounce_retried(self._catalog, job)
        manifest: Manifest | None = None
        if job.state is JobState.CREATED:
            adapter = self._resources.adapter(job.resource_type)
            try:
                # Rule: an expiry never deletes what a restore reads; the hold ends when the job does.
                self._leases.begin_restore(job.recovery_point_id, job.job_id)
                manifest = self.load_manifest(job.recovery_point_id)
                created = (self._continuous.start_restore(job, manifest) if pitr_time(job)
                           else adapter.start_restore(job, manifest))
            except CofferError as error:
                self._catalog.save_job(job.to(JobState.FAILED, now, f"{type(error).__name__}: {error}"))
                self._leases.end_restore(job.recovery_point_id, job.job_id)
                raise
            running = job.to(JobState.RUNNING, now, "restore started").with_changes(native_ref=created)
            job = self._catalog.save_job(running)
        if job.state is not JobState.RUNNING:
            return StartResult(job_id=job.job_id, next="done")
        if self._resources.adapter(job.resource_type).strategy is BackupStrategy.OBJECTS and pitr_time(job):
            return self._continuous.objects_step(job)  # ListPitrBatches: the bucket as it was at T
        if self._resources.adapter(job.resource_type).strategy is BackupStrategy.OBJECTS:
            manifest = manifest or self.load_manifest(job.recovery_point_id)
            return StartResult(job_id=job.job_id, next="objects", next_seq=len(manifest.parts),
                               items_prefix=VaultLayout.parts_prefix(job.vault_name, job.recovery_point_id))
        if self._waits_on_events(job):
            # one look now (a Describe): there already, or wait on AWS's end event - no Wait + CheckRestore round
            manifest = manifest or self.load_manifest(job.recovery_point_id)
            if self._resources.adapter(job.resource_type).restore_status(job, manifest).done:
                return StartResult(job_id=job.job_id, next="native_done")
            wait = self._event_wait(job)
            return StartResult(job_id=job.job_id, next="native_events", wait_seconds=wait.wait_seconds,
                               waiter_key=wait.waiter_key, waiter_ttl=wait.waiter_ttl)
        return StartResult(job_id=job.job_id, next="native", wait_seconds=self._settings.poll_seconds)

    def _waits_on_events(self, job: Job) -> bool:
        """A target AWS announces the end of, made already (an EBS restore from an archived snapshot has none
        until the snapshot is back in the standard tier: it polls), whose adapter can read it by its ARN (what
        ResumeNative confirms an event with: ports/restore_targets.py)."""
        return (bool(job.native_ref) and job.resource_type in EVENT_TYPES
                and isinstance(self._resources.adapter(job.resource_type), RestoreTargets))

    def _event_wait(self, job: Job) -> PollResult:
        """How the workflow waits on the target's end event: its waiter record (target and job), and the safety
        net's length (growing with the time the restore has run)."""
        now = self._clock.now()
        started = next((t.at for t in reversed(job.history) if t.state is JobState.RUNNING), None)
        return PollResult(job_id=job.job_id, done=False, wait="events",
                          wait_seconds=safety_net_seconds(self._settings.native_safety_net_seconds, started, now,
                                                          job.complete_by),
                          waiter_key=waiter_key(restore_waiter_ref(job.native_ref or "", job.job_id)),
                          waiter_ttl=str(int(now.timestamp()) + WAITER_TTL_SECONDS))

    def _check_bucket(self, metadata: dict[str, str], job_id: str) -> None:
        """Restores never take over (domain/input_rules/restore_metadata.py): refused before the job exists - a
        new bucket (the default) that exists, an existing bucket that is missing or not versioned. One
        GetBucketVersioning. A retried start whose first attempt made the job (and maybe the bucket) goes on: the
        job's own start re-checks the bucket where it takes it (S3Adapter.start_restore)."""
        found = restore_bucket_problem(metadata, self._buckets.bucket_versioning(metadata["DestinationBucketName"]))
        if found is None:
            return
        try:
            self._catalog.get_job(job_id)
        except NotFound:
            raise InvalidInput([found]) from None

    def check(self, job_id: str) -> PollResult:
        """One look at the native restore. A target AWS announces the end of is read by its ARN (one Describe, no
        manifest: it exists) and, not there yet, waited for on that event again; anything else is polled."""
        job = self._catalog.get_job(job_id)
        adapter = self._resources.adapter(job.resource_type)
        if self._waits_on_events(job) and isinstance(adapter, RestoreTargets):
            if self._target_there(job, adapter):
                return PollResult(job_id=job_id, done=True)
            return self._event_wait(job)  # the workflow's own look found it still running: back to the event
        status = adapter.restore_status(job, self.load_manifest(job.recovery_point_id))
        return PollResult(job_id=job_id, done=status.done, wait_seconds=self._settings.poll_seconds)

    @staticmethod
    def _target_there(job: Job, adapter: RestoreTargets) -> bool:
        """The job's own target, by its ARN: available (True), still being made (False); failed, or no longer the
        one this job made (its restore-job tag names another), raises."""
        status = adapter.target_status(job.native_ref or "")
        if status.details.get("restore_job_id") != job.job_id:
            raise RestoreMismatch(f"{job.native_ref} is not the target restore job {job.job_id} made")
        if status.details.get("failed"):
            raise NativeOperationFailed(str(status.details["failed"]))
        return status.done

    def complete(self, job_id: str) -> JobSummary:
        """Check the restored resource against the manifest; only then is the restore COMPLETED."""
        now = self._clock.now()
        job = self._catalog.get_job(job_id)
        if job.state.terminal:
            self._leases.end_restore(job.recovery_point_id, job.job_id)  # a retry after the job ended
            self._catalog.announce_again(job)  # ... owes the job event its unanswered ending write may have missed
            return summary(job)
        manifest = self.load_manifest(job.recovery_point_id)
        adapter = self._resources.adapter(job.resource_type)
        if adapter.strategy is BackupStrategy.OBJECTS:
            records = list(self._catalog.list_parts(job_id))
            failed = failed_keys(records)
            restored = sum(r["restored"] for r in records)
            job = job.with_changes(progress=job.progress.model_copy(update={
                "objects": restored, "failed_keys": failed[:1000]}))
            if not pitr_time(job) and failed and restored and restored + len(failed) == manifest.objects:
                # Every object of the recovery point restored (each checked by S3) or named failed: PARTIAL with
                # those keys, never COMPLETED (a restore that restored nothing, or lost track of an object, FAILS).
                job = self._catalog.save_job(job.to(JobState.PARTIAL, now, (
                    f"restored {restored} of {manifest.objects} objects; {len(failed)} failed")))
                self._leases.end_restore(job.recovery_point_id, job.job_id)
                return summary(job)
            if not pitr_time(job) and failed:
                # Nothing restored (or an object unaccounted for): FAILED, naming the keys that failed - the job
                # keeps them in failed_keys, the workflow's FailJob ends it with this cause.
                self._catalog.save_job(job)
                raise RestoreMismatch(failed_cause(restored, manifest.objects, failed))
        if adapter.strategy is BackupStrategy.OBJECTS and pitr_time(job):
            checked = self._continuous.validate_restore(job)
        else:
            checked = adapter.validate_restore(job, manifest)
        job = self._catalog.save_job(job.to(JobState.COMPLETED, now, f"restored and checked: {checked}"))
        self._leases.end_restore(job.recovery_point_id, job.job_id)
        return summary(job)
