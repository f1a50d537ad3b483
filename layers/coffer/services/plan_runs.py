"""Plan runs: the PlanRun workflow's steps. One run = one rule firing once over its plan's selections.

start   -> the run record (once per rule and scheduled time; a second delivery does nothing)
select  -> a few pages of the account's resources matched against the selections, written to the work
           bucket as page files (no step ever holds the whole list; the workflow loops until done)
claim   -> per page: claim each resource's window slot; the run that wins starts the backup (a nested
           Backup workflow execution), a later one joins it
settle  -> per page, once its backups ended: each resource's outcome; a joiner lengthens the backup's
           retention if its own rule keeps backups longer
complete-> the run's outcome (selected, started, completed, failed, skipped...) in the catalog
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from coffer.domain.alerts import SilentRule, Staleness, frequency_of
from coffer.domain.clock import Clock
from coffer.domain.continuous import CONTINUOUS_TYPES
from coffer.domain.errors import NotFound
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import Job, JobState
from coffer.domain.plan_runs import (
    PageEntry,
    PlanRun,
    RuleSnapshot,
    RunCounts,
    RunState,
    WindowClaim,
    backup_token,
    execution_name,
    page_key,
    pages_prefix,
    parse_scheduled_time,
    run_id_for,
    seq_of,
    window_slot,
)
from coffer.domain.plan_steps import (
    BackupStart,
    ClaimResult,
    PlanRunInput,
    PlanRunSummary,
    SelectResult,
    SettleResult,
    StartPlanRunResult,
)
from coffer.domain.plans import BackupSelection
from coffer.domain.resources import ResourceType
from coffer.domain.selection import SelectionMatcher, classify, needs_discovery, scan_filters
from coffer.domain.steps import StepError
from coffer.ports.catalog import Catalog
from coffer.ports.directory import FoundResource, ResourceDirectory
from coffer.ports.plans import PlanStore
from coffer.ports.work_area import WorkArea
from coffer.services.alerts import Alerts
from coffer.services.retention import RecoveryPointRetention
from coffer.settings import Settings

#: lists kept in a run's record are capped (the counts are not)
_LISTED = 100
_ENDED_BADLY = {JobState.FAILED, JobState.ABORTED, JobState.EXPIRED}


def _minutes(span: timedelta | None) -> int | None:
    return None if span is None else int(span.total_seconds() // 60)


def account_of(arn: str | None) -> str:
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4] else "000000000000"


@dataclass
class _Cursor:
    """Where selection resumes: a phase and that phase's own token (serialised into the workflow state)."""

    phase: int = 0
    token: str | None = None

    def dump(self) -> str | None:
        return None if self.phase == 0 and self.token is None else f"{self.phase}|{self.token or ''}"

    @classmethod
    def load(cls, text: str | None) -> _Cursor:
        if not text:
            return cls()
        phase, _, token = text.partition("|")
        return cls(int(phase), token or None)


class PlanRuns:
    """`supported`: the resource types a selection may back up (those with an adapter)."""

    def __init__(self, catalog: Catalog, plans: PlanStore, directory: ResourceDirectory, work: WorkArea,
                 retention: RecoveryPointRetention, supported: frozenset[ResourceType], settings: Settings,
                 clock: Clock, alerts: Alerts) -> None:
        self._catalog = catalog
        self.plans = plans
        self._directory = directory
        self._work = work
        self._retention = retention
        self.supported = supported
        self._settings = settings
        self._clock = clock
        self._alerts = alerts  # missed schedules, found as each page settles

    # ---- start ----------------------------------------------------------------------------------
    def start(self, request: PlanRunInput, execution_arn: str | None) -> StartPlanRunResult:
        now = self._clock.now()
        scheduled = parse_scheduled_time(request.scheduled_time, now)
        run_id = run_id_for(request.plan_name, request.rule_name, scheduled)
        run = PlanRun(run_id=run_id, plan_name=request.plan_name, rule_name=request.rule_name,
                      scheduled_time=scheduled, started_at=now, execution_arn=execution_arn)
        stored = self.plans.get_plan(request.plan_name)
        rule = stored.plan.backup_plan.rule(request.rule_name) if stored else None
        if stored is None or rule is None:
            # A schedule that outlived its rule (deleted meanwhile): nothing to back up, and said so.
            missing = f"plan {request.plan_name}" if stored is None else f"rule {request.rule_name}"
            run = run.model_copy(update={"state": RunState.SKIPPED, "ended_at": now,
                                         "notes": [f"{missing} is not in the catalog; nothing was selected"]})
        else:
            run = run.model_copy(update={
                "rule": RuleSnapshot(plan_name=stored.plan.name, plan_id=stored.plan.plan_id, rule_name=rule.rule_name,
                                     vault_name=rule.target_backup_vault_name,
                                     start_window_minutes=rule.effective_start_window,
                                     completion_window_minutes=rule.effective_completion_window,
                                     lifecycle=rule.effective_lifecycle,
                                     recovery_point_tags=dict(rule.recovery_point_tags or {}),
                                     copy_actions=[action.model_dump(mode="json", by_alias=True, exclude_none=True)
                                                   for action in rule.copy_actions or []],
                                     enable_continuous_backup=bool(rule.enable_continuous_backup),
                                     frequency_minutes=_minutes(frequency_of(rule.schedule(), scheduled))),
                "selections": [s.model_dump(mode="json", by_alias=True, exclude_none=True)
                               for s in stored.plan.selections]})
            if not stored.plan.selections:
                run = run.model_copy(update={"notes": ["the plan has no selections: nothing is selected"]})
        created = self.plans.create_run(run)
        if created is None:
            existing = self.plans.get_run(run_id)
            if existing.execution_arn != execution_arn or execution_arn is None:
                return StartPlanRunResult(run_id=run_id, next="done", duplicate=True)
            run = existing  # a retry of this very execution carries on
        if run.rule is not None:
            # the rule fired: what the daily sweep's schedule watch measures its silence against
            self.plans.note_fired(run.plan_name, run.rule_name, run.scheduled_time)
        go = run.state is RunState.RUNNING and bool(run.selections)
        return StartPlanRunResult(run_id=run_id, next="select" if go else "done", items_prefix=pages_prefix(run_id))

    # ---- select ---------------------------------------------------------------------------------
    def _own_resources(self, account: str) -> frozenset[str]:
        """Coffer's own buckets and table: never backed up into the vault they live in."""
        s, directory = self._settings, self._directory
        arn = f"arn:{directory.partition}"
        return frozenset({f"{arn}:s3:::{s.vault_bucket}", f"{arn}:s3:::{s.work_bucket}",
                          f"{arn}:dynamodb:{directory.region}:{account}:table/{s.catalog_table}"})

    def _phases(self, matchers: list[SelectionMatcher]) -> list[str]:
        phases = ["tagged"]
        if any(m.literal_arns for m in matchers):
            phases.append("named")
        phases += [f"listed:{t.value}" for t in sorted(self.supported)
                   if any(needs_discovery(m, t) for m in matchers)]
        return phases

    def select(self, run_id: str, token: str | None, call: int, next_seq: int) -> SelectResult:
        """Match the next few pages of the account's resources; write the selected ones as page files."""
        run = self.plans.get_run(run_id)
        matchers = [SelectionMatcher(BackupSelection.model_validate(s)) for s in run.selections]
        account = account_of(run.execution_arn)
        own = self._own_resources(account)
        literal = frozenset(a for m in matchers for a in m.literal_arns)
        phases = self._phases(matchers)
        cursor = _Cursor.load(token)
        counts = RunCounts()
        unsupported: list[dict[str, str]] = []
        excluded: list[str] = []
        seq = next_seq
        for _ in range(self._settings.pages_per_listing):
            if cursor.phase >= len(phases):
                break
            found, cursor = self._page(account, phases, cursor, matchers, literal)
            items: list[dict[str, str]] = []
            for resource in found:
                counts += RunCounts(seen=1)
                if not any(m.matches(resource.arn, resource.tags) for m in matchers):
                    continue
                if resource.arn in own:
                    counts += RunCounts(excluded=1)
                    excluded.append(resource.arn)
                    continue
                classified = classify(resource.arn, self.supported)
                if classified.resource_type is None:
                    counts += RunCounts(unsupported=1)
                    unsupported.append({"arn": resource.arn, "reason": classified.reason or "unsupported"})
                    continue
                counts += RunCounts(selected=1)
                items.append({"arn": resource.arn, "resource_type": classified.resource_type.value})
            if items:
                self._work.write_json(page_key(run_id, seq), {"run_id": run_id, "seq": seq, "items": items})
                seq += 1
        self.plans.put_run_record(run_id, "SELECT", call, {
            "counts": counts.model_dump(), "unsupported": unsupported[:_LISTED], "excluded": excluded[:_LISTED]})
        more = cursor.phase < len(phases)
        return SelectResult(run_id=run_id, token=cursor.dump() if more else None, call=call + 1, next_seq=seq,
                            more=more, items_prefix=pages_prefix(run_id))

    def _page(self, account: str, phases: list[str], cursor: _Cursor,
              matchers: list[SelectionMatcher], literal: frozenset[str]) -> tuple[list[FoundResource], _Cursor]:
        """One API page of the current phase, and where the next one starts."""
        directory = self._directory
        phase = phases[cursor.phase]
        if phase == "tagged":
            filters = scan_filters(matchers)
            found, token = directory.tagged_page(cursor.token, filters.tag_filters, filters.type_filters)
            found = [r for r in found if r.arn not in literal]  # the 'named' phase reads those, once each
        elif phase == "named":
            start = int(cursor.token or 0)
            names = sorted(literal)[start:start + 100]
            tags = directory.tags_of(names)
            found = [FoundResource(arn, tags.get(arn, {})) for arn in names]
            token = str(start + 100) if start + 100 < len(literal) else None
        else:
            resource_type = ResourceType(phase.split(":", 1)[1])
            arns, token = directory.listed_page(resource_type, cursor.token, account)
            arns = [a for a in arns if a not in literal]
            known = directory.tags_of(arns)  # these were listed by the tagged phase already
            found = [FoundResource(arn, {}) for arn in arns if arn not in known]
        if token is None:
            return found, _Cursor(cursor.phase + 1, None)
        return found, _Cursor(cursor.phase, token)

    # ---- claim ----------------------------------------------------------------------------------
    def claim(self, run_id: str, key: str) -> ClaimResult:
        """Claim each resource of a page for this run's window slot; the backups this run must start."""
        run = self.plans.get_run(run_id)
        rule = self._rule(run)
        page = self._work.read_json(key)
        seq = seq_of(key)
        slot = window_slot(run.scheduled_time)
        slot_start = run.scheduled_time.replace(minute=0, second=0, microsecond=0)
        entries: list[PageEntry] = []
        backups: list[BackupStart] = []
        for item in page["items"]:
            token = backup_token(run.plan_name, run.rule_name, run.scheduled_time, item["arn"])
            job_id = job_id_for(token)
            holder = self.plans.claim_window(WindowClaim(
                resource_arn=item["arn"], slot=slot, job_id=job_id, run_id=run_id, plan_name=run.plan_name,
                rule_name=run.rule_name, start_deadline=run.start_deadline), slot_start)
            if holder.job_id == job_id:
                entries.append(PageEntry(arn=item["arn"], resource_type=item["resource_type"], role="started",
                                         job_id=job_id))
                backups.append(BackupStart(name=execution_name(token),
                                           input=self._backup_event(run, rule, item["arn"], token,
                                                                    item["resource_type"])))
            else:
                entries.append(PageEntry(arn=item["arn"], resource_type=item["resource_type"], role="joined",
                                         job_id=holder.job_id,
                                         reason=f"window {slot} taken by {holder.plan_name}/{holder.rule_name}"))
        self.plans.put_run_record(run_id, "PAGE", seq, {"entries": [e.model_dump(mode="json") for e in entries],
                                                        "settled": False})
        return ClaimResult(run_id=run_id, seq=seq, backups=backups, joined=sum(e.role == "joined" for e in entries))

    def _rule(self, run: PlanRun) -> RuleSnapshot:
        if run.rule is None:
            raise NotFound(f"plan run {run.run_id} has no rule (it was skipped)")
        return run.rule

    def _backup_event(self, run: PlanRun, rule: RuleSnapshot, arn: str, token: str,
                      resource_type: str | None = None) -> dict[str, Any]:
        """A StartBackupJob event as EventBridge would deliver it to the Backup workflow: same parsing, same
        idempotency (per token), and the start window counted from the scheduled time. A continuous rule asks
        for a continuous backup of the types that have one; other types get a snapshot backup (AWS Backup)."""
        detail: dict[str, Any] = {
            "ResourceArn": arn, "BackupVaultName": rule.vault_name, "IdempotencyToken": token,
            "StartWindowMinutes": rule.start_window_minutes, "CompleteWindowMinutes": rule.completion_window_minutes,
            "Lifecycle": rule.lifecycle.model_dump(mode="json", by_alias=True, exclude_none=True),
            "RecoveryPointTags": rule.recovery_point_tags, "BackupPlanId": rule.plan_id,
            "BackupRuleName": rule.rule_name}
        if rule.copy_actions:
            detail["CopyActions"] = rule.copy_actions  # started by the Backup workflow once the backup COMPLETED
        if rule.enable_continuous_backup and resource_type in {t.value for t in CONTINUOUS_TYPES}:
            detail["EnableContinuousBackup"] = True
        return {"version": "0", "id": token, "detail-type": "StartBackupJob", "source": "coffer.plans",
                "account": account_of(run.execution_arn), "time": run.scheduled_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self._settings.region, "resources": [arn], "detail": detail}

    # ---- settle ---------------------------------------------------------------------------------
    def settle(self, run_id: str, seq: int) -> SettleResult:
        """Each resource's outcome, once the backups ended; joiners lengthen the backup they joined."""
        now = self._clock.now()
        run = self.plans.get_run(run_id)
        rule = self._rule(run)
        record = self.plans.get_run_record(run_id, "PAGE", seq)
        if record is None:
            raise NotFound(f"plan run {run_id} has no claims for page {seq}")
        entries = [PageEntry.model_validate(e) for e in record["entries"]]
        settled: list[PageEntry] = []
        checked: list[Staleness] = []
        for entry in entries:
            if entry.outcome is not None:
                settled.append(entry)
                continue
            after, job = self._settle(run, rule, entry, now)
            settled.append(after)
            if after.outcome is not None:
                checked.extend(self._freshness(run, rule, after, job, now))
        counts = _count(settled)
        # counted and told before the page is recorded settled: a retried step tells again (at least once)
        self._alerts.schedules_checked(rule.plan_name, rule.vault_name, checked, now)
        self.plans.put_run_record(run_id, "PAGE", seq, {"entries": [e.model_dump(mode="json") for e in settled],
                                                        "settled": counts.pending == 0, "counts": counts.model_dump()})
        return SettleResult(run_id=run_id, seq=seq, pending=counts.pending, wait_seconds=self._settings.poll_seconds,
                            counts=counts)

    def _freshness(self, run: PlanRun, rule: RuleSnapshot, entry: PageEntry, job: Job | None,
                   now: datetime) -> list[Staleness]:
        """The resource's newest COMPLETED recovery point (this run's, or the one it joined, or an earlier one)
        against the rule's frequency plus windows; nothing for a run started before rules had a frequency."""
        if rule.frequency_minutes is None:
            return []
        completed = job.history[-1].at if job is not None and job.state is JobState.COMPLETED else None
        first, newest = self.plans.note_selected(rule.plan_name, rule.rule_name, entry.arn, run.scheduled_time,
                                                 completed)
        return [Staleness(plan_name=rule.plan_name, rule_name=rule.rule_name, vault_name=rule.vault_name,
                          resource_arn=entry.arn, first_selected=first, last_completed=newest,
                          frequency=timedelta(minutes=rule.frequency_minutes),
                          window=timedelta(minutes=rule.start_window_minutes + rule.completion_window_minutes))]

    def _settle(self, run: PlanRun, rule: RuleSnapshot, entry: PageEntry,
                now: datetime) -> tuple[PageEntry, Job | None]:
        """The entry settled (or still pending) and the job it waited on (None: none was made)."""
        try:
            job = self._catalog.get_job(entry.job_id)
        except NotFound:
            job = None
        return self._settled(run, rule, entry, job, now), job

    def _settled(self, run: PlanRun, rule: RuleSnapshot, entry: PageEntry, job: Job | None,
                 now: datetime) -> PageEntry:
        give_up = run.scheduled_time + timedelta(minutes=rule.completion_window_minutes)
        if entry.role == "started":
            if job is None:
                return entry.model_copy(update={"outcome": "failed", "reason": "the backup request was refused "
                                                "before a job was made (see its Backup execution)"})
            return self._ended(entry, job, now, give_up) or entry
        # joined: another run's backup covers this window
        if job is None:
            if now <= run.start_deadline:
                return entry
            return entry.model_copy(update={"outcome": "failed",
                                            "reason": f"{entry.reason}, but no backup job was started in it"})
        if not job.state.terminal:
            return entry if now <= give_up else entry.model_copy(update={
                "outcome": "failed", "reason": f"{entry.reason}; its job {job.job_id} is still {job.state}"})
        if job.state in _ENDED_BADLY:
            return entry.model_copy(update={"outcome": "failed",
                                            "reason": f"{entry.reason}; its job {job.job_id} ended {job.state}"})
        lengthened = self._retention.lengthen(
            job.recovery_point_id, rule.lifecycle, f"plan {rule.plan_name}, rule {rule.rule_name} joined window "
            f"{run.slot}")
        return entry.model_copy(update={"outcome": "lengthened" if lengthened.changed else "skipped"})

    def _ended(self, entry: PageEntry, job: Job, now: datetime, give_up: datetime) -> PageEntry | None:
        if not job.state.terminal:
            if now <= give_up:
                return None
            return entry.model_copy(update={
                "outcome": "failed", "reason": f"job {job.job_id} still {job.state} after its completion window"})
        if job.state is JobState.COMPLETED:
            return entry.model_copy(update={"outcome": "completed"})
        if job.state is JobState.PARTIAL:
            return entry.model_copy(update={"outcome": "partial", "reason": job.status_message})
        return entry.model_copy(update={"outcome": "failed", "reason": f"{job.state}: {job.status_message}"})

    # ---- the schedule watch (the daily sweep's CompleteSweep) ----------------------------------------
    def silent_rules(self) -> list[SilentRule]:
        """Every plan rule whose schedule has not fired within its frequency plus windows (since it last fired, or
        since its plan was applied). Told and counted (Alerts.rules_silent). One Query of the plans and a GetItem
        per rule: grows with the rules, never with the resources they select."""
        now = self._clock.now()
        silent: list[SilentRule] = []
        for stored in self.plans.list_plans():
            for rule in stored.plan.backup_plan.rules:
                last = self.plans.last_fired(stored.plan.name, rule.rule_name)
                since = last or stored.applied_at
                frequency = frequency_of(rule.schedule(), since)
                if frequency is None:
                    continue  # it will not fire again: nothing is missed
                watched = SilentRule(plan_name=stored.plan.name, rule_name=rule.rule_name,
                                     vault_name=rule.target_backup_vault_name, schedule=rule.effective_schedule,
                                     last_fired=last, since=stored.applied_at, frequency=frequency,
                                     window=timedelta(minutes=rule.effective_start_window
                                                      + rule.effective_completion_window))
                if watched.silent(now):
                    silent.append(watched)
        self._alerts.rules_silent(silent, now)
        return silent

    # ---- complete -------------------------------------------------------------------------------
    def complete(self, run_id: str | None, error: StepError | None = None) -> PlanRunSummary:
        """The run's outcome. Resources of a page that never settled (its step failed for good) count as failed."""
        now = self._clock.now()
        if run_id is None:
            return PlanRunSummary(run_id=None, state=RunState.FAILED.value,
                                  notes=[f"refused before a run was recorded: {error.Error if error else '?'}"])
        run = self.plans.get_run(run_id)
        if run.state is not RunState.RUNNING:
            return summary_of(run)
        counts = RunCounts()
        unsupported: list[dict[str, str]] = []
        excluded: list[str] = []
        for _, record in self.plans.list_run_records(run_id, "SELECT"):
            counts += RunCounts.model_validate(record["counts"])
            unsupported.extend(record["unsupported"])
            excluded.extend(record["excluded"])
        pages = dict(self.plans.list_run_records(run_id, "PAGE"))
        failures: list[dict[str, str]] = []
        for seq in self._page_seqs(run_id):
            page_record = pages.get(seq)
            entries = [PageEntry.model_validate(e) for e in page_record["entries"]] if page_record else []
            if page_record is None or not page_record.get("counts"):
                items = self._work.read_json(page_key(run_id, seq))["items"]
                known = {e.arn: e for e in entries}
                entries = [known.get(i["arn"]) or PageEntry(arn=i["arn"], resource_type=i["resource_type"],
                                                            role="unclaimed", job_id="") for i in items]
                entries = [e if e.outcome else e.model_copy(update={"outcome": "failed",
                                                                     "reason": f"page {seq} did not finish"})
                           for e in entries]
            counts += _count(entries)
            failures.extend({"arn": e.arn, "reason": e.reason or ""} for e in entries if e.outcome == "failed")
        notes = list(run.notes)
        if error is not None:
            notes.append(f"the run failed: {error.Error}: {(error.Cause or '')[:500]}")
        ended = run.model_copy(update={
            "state": RunState.FAILED if error is not None else RunState.COMPLETED, "ended_at": now, "counts": counts,
            "unsupported": unsupported[:_LISTED], "excluded": excluded[:_LISTED], "failures": failures[:_LISTED],
            "notes": notes})
        return summary_of(self.plans.save_run(ended))

    def _page_seqs(self, run_id: str) -> Iterator[int]:
        for listed in self._work.listing(pages_prefix(run_id)):
            yield seq_of(listed["key"])


def _count(entries: list[PageEntry]) -> RunCounts:
    counts = RunCounts()
    for e in entries:
        counts += RunCounts(
            started=int(e.role == "started"),
            skipped=int(e.role == "joined" and e.outcome in ("skipped", "lengthened")),
            lengthened=int(e.outcome == "lengthened"), completed=int(e.outcome == "completed"),
            partial=int(e.outcome == "partial"), failed=int(e.outcome == "failed"), pending=int(e.outcome is None))
    return counts


def summary_of(run: PlanRun) -> PlanRunSummary:
    return PlanRunSummary(run_id=run.run_id, plan_name=run.plan_name, rule_name=run.rule_name,
                          scheduled_time=run.scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                          state=run.state.value, counts=run.counts, unsupported=run.unsupported,
                          failures=run.failures, notes=run.notes)

