"""Backup jobs: start (idempotent, leased), poll, complete (manifest first, then COMPLETED), fail."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from coffer.domain.audit import creation_details
from coffer.domain.clock import Clock
from coffer.domain.continuous import CONTINUOUS_TYPES
from coffer.domain.copies import copy_executions
from coffer.domain.errors import CofferError, CompletionWindowExceeded, InvalidInput, NotFound, ResourceBusy
from coffer.domain.input_rules.gates import check_backup_request
from coffer.domain.job_ids import job_id_for, recovery_point_id_for
from coffer.domain.jobs import Job, JobKind, JobProgress, JobState, Transition, queued_since
from coffer.domain.manifest import Manifest, PartRef, VaultLayout, WorkLayout
from coffer.domain.native_waits import EVENT_TYPES, WAITER_TTL_SECONDS, safety_net_seconds, waiter_key
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.requests import StartBackupJobRequest
from coffer.domain.resources import ResourceType, check_options
from coffer.domain.snapshot_quota import snapshot_limit, snapshot_quota_key, volumes_snapshotted
from coffer.domain.steps import JobSummary, PollResult, StartResult
from coffer.ports.catalog import Catalog, DuplicateRequest
from coffer.ports.quotas import SlotQuotas
from coffer.ports.resource_registry import ResourceAdapters
from coffer.ports.resources import BackupStrategy, OperationStatus, StartedBackup
from coffer.ports.turns import Turns
from coffer.ports.vault import VaultStore
from coffer.ports.work_area import WorkArea
from coffer.services.audit_log import AuditLog
from coffer.services.continuous import ContinuousBackups
from coffer.services.jobs_common import reannounce_retried, summary
from coffer.services.vaults import Vaults
from coffer.settings import Settings

IDEMPOTENCY_TTL = timedelta(days=7)
#: a queued job asks again on its own after RECHECK_POLLS poll intervals at the head of its queue, RECHECK_BEHIND_POLLS
#: more per job ahead of it, at most RECHECK_MAX_POLLS (it is woken at once when its turn comes; this covers a lost
#: wake-up, and a start window that passes while it waits - never waited past)
RECHECK_POLLS = 4
RECHECK_BEHIND_POLLS = 10
RECHECK_MAX_POLLS = 40


class BackupJobs:
    def __init__(self, catalog: Catalog, vault: VaultStore, work: WorkArea, resources: ResourceAdapters,
                 quotas: SlotQuotas, turns: Turns, continuous: ContinuousBackups, vaults: Vaults, settings: Settings,
                 clock: Clock, audit: AuditLog) -> None:
        self._audit = audit
        self._catalog = catalog
        self._vault = vault
        self._work = work
        self._resources = resources
        self._quotas = quotas
        self._turns = turns
        self._continuous = continuous
        self._vaults = vaults
        self._settings = settings
        self._clock = clock

    # ---- start ----------------------------------------------------------------------------------
    def start(self, request: StartBackupJobRequest, event_id: str, requested_at: datetime | None,
              execution_arn: str | None) -> StartResult:
        """Create the job (once per idempotency token), take the resource's lease and start the backup.

        A second delivery of the same event returns the first job, marked duplicate, and starts nothing; a
        Step Functions retry of this very execution carries on with the job it created.
        """
        # the ARN's type, or a DB cluster's by its engine (Aurora, DocumentDB and Neptune share cluster:<id>): one
        # DescribeDBClusters, asked once, after the resource is known to be this stack's
        type_of = cache(self._resources.type_of)
        check_backup_request(request, self._settings.home, type_of)  # the input rules: refused here, before any write
        now = self._clock.now()
        resource_type = type_of(request.resource_arn)
        if request.enable_continuous_backup and request.plan_id is not None and resource_type not in CONTINUOUS_TYPES:
            # a plan's continuous rule backs up the types without point-in-time recovery with snapshots (AWS
            # Backup); the plan run read the type from the ARN alone (a DocumentDB cluster's reads as Aurora's)
            request = request.model_copy(update={"enable_continuous_backup": False})
        token = request.idempotency_token or event_id
        job_id = job_id_for(token)
        job = Job(
            job_id=job_id, kind=JobKind.BACKUP, resource_arn=request.resource_arn, resource_type=resource_type,
            vault_name=request.backup_vault_name, recovery_point_id=recovery_point_id_for(job_id), created_at=now,
            start_by=(requested_at or now) + timedelta(minutes=request.start_window_minutes),
            lifecycle=request.lifecycle, recovery_point_tags=request.recovery_point_tags,
            backup_options=request.backup_options, plan_id=request.plan_id, rule_name=request.rule_name,
            continuous=request.enable_continuous_backup,
            copy_actions=tuple(request.copy_actions),
            idempotency_token=token, execution_arn=execution_arn,
            history=(Transition(state=JobState.CREATED, at=now, reason="job created"),),
        )
        if job.continuous:  # retention 1-35 days (35 unset), a type with point-in-time recovery, one vault
            job = job.with_changes(lifecycle=self._continuous.admit(request, resource_type))
        # An unknown vault, or a retention outside the vault lock, is refused before anything is written.
        self._vaults.admit(request.backup_vault_name, job.lifecycle, now)
        # So is a BackupOption the resource type does not have (e.g. NoReboot is EC2's only).
        adapter = self._resources.adapter(resource_type)
        problems = check_options(request.backup_options, adapter.backup_options, resource_type)
        if problems:
            raise InvalidInput(problems)
        try:
            job = self._create(job, request)
            fresh = True  # created by this very call: no earlier attempt can have started its backup
        except DuplicateRequest as duplicate:
            job = duplicate.job
            if job.execution_arn != execution_arn or execution_arn is None:
                return StartResult(job_id=job.job_id, duplicate=True, next="done")
            reannounce_retried(self._catalog, job)
            fresh = False
        if job.state is JobState.PENDING:
            job = self._resume(job)
        known: OperationStatus | None = None
        if job.state is JobState.CREATED:
            job, known = self._run(job, request.complete_window_minutes, fresh=fresh)
        return self._next_step(job, known)

    def _create(self, job: Job, request: StartBackupJobRequest) -> Job:
        """Write the job with the resource's lease. If another job holds it: a request from a plan waits
        its turn (PENDING, as AWS Backup queues a scheduled job); an on-demand request is refused."""
        now = self._clock.now()
        ttl = int((now + IDEMPOTENCY_TTL).timestamp())
        # CREATED is announced with the job's next write, which follows at once (RUNNING, PENDING for snapshot slots,
        # or its end): one PutEvents for both. A start that dies between the two is retried, and the retry announces
        # CREATED again (reannounce_retried); a queued job (PENDING, below) is announced now: its next write may be
        # hours away.
        try:
            return self._catalog.create_job(job, request.fingerprint(), take_lease=True, ttl=ttl, announce=False)
        except ResourceBusy as busy:
            if self._lease_is_stale(busy.running_job_id):
                self._catalog.take_lease(job.resource_arn, job.job_id, stale_holder=busy.running_job_id)
                return self._catalog.create_job(job, request.fingerprint(), take_lease=False, ttl=ttl,
                                                announce=False)
            if request.plan_id is None:
                raise
            queued = job.to(JobState.PENDING, now, f"waiting for job {busy.running_job_id} on this resource")
            queued = queued.with_changes(waiting_for=job.resource_arn)
            return self._catalog.create_job(queued, request.fingerprint(), take_lease=False, ttl=ttl)

    def _resume(self, job: Job) -> Job:
        """A queued job takes the lease when it is free (or its holder ended without releasing it)."""
        now = self._clock.now()
        if now > job.start_by:
            # (a job waiting for snapshot slots holds its resource's lease: it goes back with the job's end)
            return self._catalog.save_job(job.to(JobState.EXPIRED, now, f"still queued at {job.start_by.isoformat()}"),
                                      release_lease=True, also=self._quotas.release_for(job))
        holder = self._catalog.take_lease(job.resource_arn, job.job_id)
        if holder is not None and self._lease_is_stale(holder):
            holder = self._catalog.take_lease(job.resource_arn, job.job_id, stale_holder=holder)
        if holder is not None:
            if job.waiting_for != job.resource_arn:
                job = self._catalog.save_job(job.with_changes(waiting_for=job.resource_arn))
            return job
        return self._catalog.save_job(job.to(JobState.CREATED, now, "resource free: starting"))

    def _lease_is_stale(self, holder_id: str) -> bool:
        """A lease whose job has ended (or vanished) was not released: a crash must not block a resource."""
        try:
            return self._catalog.get_job(holder_id).state.terminal
        except NotFound:
            return True

    def _run(self, job: Job, complete_window_minutes: int, fresh: bool) -> tuple[Job, OperationStatus | None]:
        """Start the backup. `fresh`: the job was created by this call (the adapter looks for no earlier artefact).
        With the job: the native backup's status as its create call answered it (None: unknown)."""
        now = self._clock.now()
        if now > job.start_by:
            # AWS Backup: a job not started within its start window ends EXPIRED.
            return self._catalog.save_job(job.to(JobState.EXPIRED, now, f"not started by {job.start_by.isoformat()}"),
                                          release_lease=True, also=self._quotas.release_for(job)), None
        adapter = self._resources.adapter(job.resource_type)
        try:
            source = adapter.describe_source(job.resource_arn)
            job = job.with_changes(source=source)
            if not job.continuous:
                job = self._take_snapshot_slots(job, now)
                if job.state is JobState.PENDING:
                    return job, None
            # continuous backup is turned on by the EnableContinuousBackup step, not by a snapshot
            started = StartedBackup(None) if job.continuous else adapter.start_backup(job, fresh=fresh)
        except CofferError as error:
            self._catalog.save_job(job.to(JobState.FAILED, now, f"{type(error).__name__}: {error}"), release_lease=True,
                               also=self._quotas.release_for(job))
            raise
        running = job.to(JobState.RUNNING, now, "backup started").with_changes(
            native_ref=started.native_ref, source=source,
            complete_by=now + timedelta(minutes=complete_window_minutes))
        return self._catalog.save_job(running), started.status

    def _take_snapshot_slots(self, job: Job, now: datetime) -> Job:
        """A slot of each volume the backup snapshots (EBS: its volume; EC2: the instance's volumes), within AWS's
        quota of snapshots in progress per volume. Slots are taken in one order; if one volume is full, the slots
        taken are given back and the job waits PENDING (keeping its resource's lease: it is the next to run)."""
        held: list[str] = []
        for volume in volumes_snapshotted(job.resource_type, job.resource_arn, job.source):
            key, limit = snapshot_quota_key(volume), self._snapshot_limit(job, volume)
            # Rule: at most `limit` holders (a conditional write on the semaphore's size, ports/quotas.py).
            holders = self._quotas.acquire(key, job.job_id, limit, now, ended=self._lease_is_stale)
            if holders is not None:
                for taken in held:
                    self._quotas.release_now(taken, job.job_id)
                reason = (f"waiting for a snapshot slot of {volume}: {len(holders)} of {limit} snapshots in progress "
                          f"(jobs {', '.join(holders)})")
                return self._catalog.save_job(job.to(JobState.PENDING, now, reason).with_changes(
                    quota_keys=(), waiting_for=volume))
            held.append(key)
        return job.with_changes(quota_keys=tuple(held), waiting_for=None)

    def _snapshot_limit(self, job: Job, volume_arn: str) -> int:
        s = self._settings
        if job.resource_type is ResourceType.EBS:
            volume_type = job.source.get("volume_type")
        else:  # an instance's volume: its type decides its quota
            volume_type = self._resources.adapter(ResourceType.EBS).describe_source(volume_arn).get("volume_type")
        return snapshot_limit(volume_type, s.ebs_snapshots_per_volume, s.ebs_hdd_snapshots_per_volume)

    # ---- wait for a turn ------------------------------------------------------------------------
    def await_turn(self, job_id: str, waiting_for: str | None, task_token: str) -> PollResult:
        """Park a queued job's workflow: its task token goes into the queue of what it waits for, and the job
        that frees it wakes it (ports/turns.py). If that is free already - or the job is no longer
        queued, or its start window passed - the job is woken at once and asks again."""
        now = self._clock.now()
        job = self._catalog.get_job(job_id)
        key = waiting_for or job.waiting_for or job.resource_arn
        queued_at = queued_since(job) or now
        if job.state is JobState.PENDING and now <= job.start_by:
            self._turns.enter(key, queued_at, job_id, task_token)  # first in the queue, then look: no lost wake-up
            if not self._is_free(job, key):
                return PollResult(job_id=job_id, done=False)
            self._turns.leave(key, queued_at, job_id)
        self._turns.wake(task_token)
        return PollResult(job_id=job_id, done=True)

    def _is_free(self, job: Job, key: str) -> bool:
        holder = self._catalog.lease_holder(job.resource_arn)
        if holder is not None and holder != job.job_id and not self._lease_is_stale(holder):
            return False  # another job runs on this resource
        if holder != job.job_id:
            return True  # the lease is free (or stale): ask for it
        # it holds its lease and waits for snapshot slots of volume `key`
        holders = self._quotas.holders(snapshot_quota_key(key))
        live = [h for h in holders if h != job.job_id and not self._lease_is_stale(h)]
        return len(live) < self._snapshot_limit(job, key)

    def _recheck_seconds(self, job: Job) -> int:
        """How long a queued job waits to be woken before it asks again on its own: longer the further back it is
        in its queue (the head asks every few poll intervals), never past its start window."""
        now = self._clock.now()
        key = job.waiting_for or job.resource_arn
        ahead = self._turns.ahead(key, queued_since(job) or now, job.job_id)
        polls = min(RECHECK_POLLS + RECHECK_BEHIND_POLLS * ahead, RECHECK_MAX_POLLS)
        left = (job.start_by - now).total_seconds()
        return max(1, min(polls * self._settings.poll_seconds, int(left) + 1))

    def _next_step(self, job: Job, known: OperationStatus | None = None) -> StartResult:
        """Where the workflow goes from the start. `known`: the native backup's status as its create call answered
        it moments ago - as good as the look this would make (a Describe), so none is made."""
        if job.state is JobState.PENDING:
            return StartResult(job_id=job.job_id, next="queued", wait_seconds=self._recheck_seconds(job),
                               waiting_for=job.waiting_for or job.resource_arn)
        if job.state is not JobState.RUNNING:
            return StartResult(job_id=job.job_id, next="done")
        if job.continuous:
            return StartResult(job_id=job.job_id, next="continuous")
        adapter = self._resources.adapter(job.resource_type)
        if adapter.strategy is BackupStrategy.OBJECTS:
            return StartResult(job_id=job.job_id, next="objects")
        if job.native_ref and job.resource_type in EVENT_TYPES:
            # one look (the create's answer, else a Describe): complete already, or wait on AWS's end event - no
            # Wait + CheckBackup round
            if (known or adapter.backup_status(job)).done:
                return StartResult(job_id=job.job_id, next="native_done")
            wait = self._event_wait(job)
            return StartResult(job_id=job.job_id, next="native_events", wait_seconds=wait.wait_seconds,
                               waiter_key=wait.waiter_key, waiter_ttl=wait.waiter_ttl)
        if job.native_ref and known is not None and known.done:
            # a polled type whose create answered done (a DynamoDB backup usually is AVAILABLE at once): complete it
            # now, not after a Wait and a CheckBackup (CompleteBackup looks itself before it writes)
            return StartResult(job_id=job.job_id, next="native_done")
        return StartResult(job_id=job.job_id, next="native", wait_seconds=self._settings.poll_seconds)

    # ---- poll -----------------------------------------------------------------------------------
    def check(self, job_id: str) -> PollResult:
        """One look at the native backup. Not done: a snapshot AWS announces the end of is waited for on that event
        (wait "events", with a safety net that grows: domain/native_waits.py), anything else polled again."""
        job = self._catalog.get_job(job_id)
        status = (self._continuous.status(job) if job.continuous
                  else self._resources.adapter(job.resource_type).backup_status(job))
        now = self._clock.now()
        if not status.done and job.complete_by and now > job.complete_by:
            raise CompletionWindowExceeded(f"job {job_id} did not complete by {job.complete_by.isoformat()}")
        if not status.done and not job.continuous and job.native_ref and job.resource_type in EVENT_TYPES:
            return self._event_wait(job)
        return PollResult(job_id=job_id, done=status.done, wait_seconds=self._settings.poll_seconds)

    def _still_running(self, job: Job) -> PollResult:
        """How to wait for a native backup found not done: on its end event (a snapshot AWS announces the end of),
        else poll again."""
        if not job.continuous and job.native_ref and job.resource_type in EVENT_TYPES:
            return self._event_wait(job)
        return PollResult(job_id=job.job_id, done=False, wait_seconds=self._settings.poll_seconds)

    def _event_wait(self, job: Job) -> PollResult:
        """How the workflow waits on the snapshot's end event: its waiter record, and the safety net's length."""
        now = self._clock.now()
        started = next((t.at for t in reversed(job.history) if t.state is JobState.RUNNING), None)
        return PollResult(job_id=job.job_id, done=False, wait="events",
                          wait_seconds=safety_net_seconds(self._settings.native_safety_net_seconds, started, now,
                                                          job.complete_by),
                          waiter_key=waiter_key(job.native_ref or ""),
                          waiter_ttl=str(int(now.timestamp()) + WAITER_TTL_SECONDS))

    # ---- complete -------------------------------------------------------------------------------
    def complete(self, job_id: str) -> JobSummary | PollResult:
        """Write the manifest under Object Lock, then (one transaction) the recovery point, the job's end
        and the lease release: a recovery point is COMPLETED only once its data and manifest are durable.

        A native backup is looked at here (the Describe that also gives its size) and completed only if it is done:
        a snapshot still pending answers how to wait for it instead (as `check` does). The workflow comes here
        straight from a resumed task token, which anyone able to read the waiter record could resume; this look is
        what keeps a forged resume from completing anything."""
        now = self._clock.now()
        job = self._catalog.get_job(job_id)
        if job.state.terminal:
            # a retry whose ending write went through unanswered: the wake-up and the job event that write owed
            self._turns.after_backup_ended(job)
            self._catalog.announce_again(job)
            return self._with_copies(summary(job), job)
        if job.complete_by is not None and now > job.complete_by:
            # AWS Backup: a job not done within its completion window is ABORTED (the Catch's FailJob maps
            # this error to ABORTED), S3 object copies included - not only native backups being polled.
            raise CompletionWindowExceeded(f"job {job_id} did not complete by {job.complete_by.isoformat()}")
        adapter = self._resources.adapter(job.resource_type)
        parts: tuple[PartRef, ...] = ()
        failed: list[str] = []
        size = 0
        if adapter.strategy is BackupStrategy.OBJECTS:
            parts, progress, failed = self._collect_parts(job)
            size = progress.bytes
            job = job.with_changes(progress=progress)
        else:
            status = self._continuous.status(job) if job.continuous else adapter.backup_status(job)
            if not status.done:
                return self._still_running(job)
            size = status.size_bytes
        partial = bool(failed)
        seal = self._vaults.seal_for(job)  # the vault's lock mode, its MinRetentionDays, its KMS key
        retain_until = seal.retain_until
        rp = RecoveryPoint(
            recovery_point_id=job.recovery_point_id, vault_name=job.vault_name, resource_arn=job.resource_arn,
            resource_type=job.resource_type,
            status=RecoveryPointStatus.PARTIAL if partial else RecoveryPointStatus.COMPLETED,
            creation_date=job.created_at, completion_date=now, backup_size_bytes=size, lifecycle=job.lifecycle,
            cold_at=job.lifecycle.cold_at(job.created_at), delete_at=job.lifecycle.delete_at(job.created_at),
            retain_until=retain_until, encryption_key_arn=seal.kms_key_arn, plan_id=job.plan_id,
            rule_name=job.rule_name, job_id=job.job_id, native_ref=job.native_ref, tags=job.recovery_point_tags,
            manifest_key=VaultLayout.manifest(job.vault_name, job.recovery_point_id),
        )
        manifest = Manifest(recovery_point=rp, completed_at=now, source=job.source, parts=parts,
                            objects=job.progress.objects, failed_keys=tuple(failed))
        if job.continuous:  # kept while protection is on, restorable from now on (services/continuous.py)
            rp, manifest = self._continuous.finish(job, rp, manifest)
        written = self._vault.put_json_locked(rp.manifest_key or "", manifest.model_dump(mode="json"), retain_until,
                                              seal)
        rp = rp.model_copy(update={"manifest_sha256": written.sha256, "manifest_version_id": written.version_id})
        # the chain records the manifest as written (key, VersionId, SHA-256) before the recovery point is COMPLETED:
        # `coffer catalog rebuild` believes only a manifest version the chain records (one per version written)
        self._audit.append("backup.complete", rp.recovery_point_id, creation_details(
            rp, seal.mode.value, {"state": "PARTIAL" if partial else "COMPLETED"}),
                           idempotency_key=f"backup.complete:{job.job_id}:{written.version_id or written.sha256}")
        if job.continuous:
            self._continuous.activate(job, now)
        ending = JobState.PARTIAL if partial else JobState.COMPLETED
        reason = f"{len(failed)} objects could not be backed up" if partial else "backup completed"
        job = self._catalog.save_job(job.to(ending, now, reason), release_lease=True, recovery_point=rp,
                                 also=self._quotas.release_for(job))
        return self._with_copies(summary(job), job)

    def _with_copies(self, result: JobSummary, job: Job) -> JobSummary:
        """A COMPLETED backup's copy actions, as the Copy workflow executions the Backup workflow starts next
        (AWS Backup copies only completed recovery points; a PARTIAL one is not copied)."""
        if job.state is not JobState.COMPLETED or not job.copy_actions:
            return result
        account = job.execution_arn.split(":")[4] if job.execution_arn else ""
        return result.model_copy(update={"copies": copy_executions(
            job.job_id, job.recovery_point_id, job.vault_name, job.copy_actions, account,
            self._settings.region, self._clock.now())})

    def _collect_parts(self, job: Job) -> tuple[tuple[PartRef, ...], JobProgress, list[str]]:
        """Gather the batches' results (one catalog record each). A batch without a result failed for good:
        its keys are listed as failed, so the job is PARTIAL, never COMPLETED."""
        records = {r["seq"]: r for r in self._catalog.list_parts(job.job_id)}
        total = job.progress.batches_total or 0
        failed: list[str] = []
        for record in records.values():
            failed.extend(f"{f['key']} ({f['reason']})" for f in record["failed"])
            # objects a batch deferred to the part-range fan-out (services/large_objects.py) that never finished
            failed.extend(f"{later['key']} (large object copy did not finish)" for later in record.get("deferred", [])
                          if later["seq"] not in records)
        for seq in range(total):
            if seq not in records:
                batch = self._work.read_json(WorkLayout.batch(job.job_id, seq))
                failed.extend(f"{item['key']} (batch {seq} failed)" for item in batch["items"])
        ordered = [records[seq] for seq in sorted(records)]
        parts = tuple(PartRef.model_validate(r["part"]) for r in ordered)
        progress = job.progress.model_copy(update={
            "objects": sum(p.objects for p in parts),
            "bytes": sum(p.bytes for p in parts),
            "objects_copied": sum(r["copied"] for r in ordered),
            "objects_reused": sum(r["reused"] for r in ordered),
            "bytes_copied": sum(r["bytes_copied"] for r in ordered),
            "failed_keys": failed[:1000],
        })
        return parts, progress, failed
