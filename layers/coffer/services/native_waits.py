"""ResumeNative: AWS's event that a snapshot ended resumes the backup parked on it (domain/native_waits.py).

An event is a hint, not proof: anyone who can put an event on a bus a rule listens to, or invoke this function,
could name a snapshot. So the snapshot's state is read back with one Describe, and only a snapshot that is
complete resumes its job (a failed one fails it, with AWS's reason). Events arrive at least once: a second one
finds the same waiter and its token spent (SendTaskSuccess answers TaskTimedOut / InvalidToken, swallowed), and a
late one for a job that has ended finds nobody waiting.

A restore's end (a volume, DB instance or DB cluster made by a restore job) is confirmed the same way, by the
target's own Describe (ports/restore_targets.py), which also names the restore job whose tag the target carries:
only that job's waiter (domain/native_waits.py restore_waiter_ref) is marked. A target without that tag is not
Coffer's and is ignored.
"""

from __future__ import annotations

from coffer.domain.clock import Clock
from coffer.domain.errors import AwsRefusal, NativeOperationFailed, NotFound
from coffer.domain.native_waits import (
    WAITER_TTL_SECONDS,
    CompletionEvent,
    NativeEnd,
    ResumeResult,
    native_end,
    restore_waiter_ref,
)
from coffer.ports.native_waiters import NativeWaiters
from coffer.ports.resource_registry import ResourceAdapters
from coffer.ports.resources import OperationStatus
from coffer.ports.restore_targets import RestoreTargets
from coffer.ports.workflows import Workflows
from coffer.settings import Settings


class NativeWaits:
    def __init__(self, waiters: NativeWaiters, resources: ResourceAdapters, workflows: Workflows, settings: Settings,
                 clock: Clock) -> None:
        self._waiters = waiters
        self._resources = resources
        self._workflows = workflows
        self._settings = settings
        self._clock = clock

    def on_event(self, event: CompletionEvent) -> ResumeResult:
        """Confirm the snapshot's end with its owner's Describe, record it, and resume (or fail) the parked task."""
        end = native_end(event, self._settings.home.partition)
        if end is None:
            return ResumeResult(outcome="ignored", reason=f"{event.source} {event.detail_type}: not an end Coffer "
                                                          "waits on")
        if end.restore:
            return self._on_restore_end(end)
        failure: str | None = None
        try:
            # the snapshot's own status (the adapters' copy_status reads any snapshot of theirs by its ref)
            status = self._resources.adapter(end.resource_type).copy_status(end.native_ref)
        except NativeOperationFailed as failed:
            failure = str(failed)
        except (NotFound, AwsRefusal) as unknown:  # not there, or not Coffer's to read (IAM: coffer-* only)
            return ResumeResult(native_ref=end.native_ref, outcome="ignored", reason=str(unknown))
        else:
            if status.details.get("coffer") is False:
                return ResumeResult(native_ref=end.native_ref, outcome="ignored", reason="not a snapshot of Coffer's")
            if not status.done:
                return ResumeResult(native_ref=end.native_ref, outcome="ignored",
                                    reason=f"the event says it ended, the snapshot says {status.details}")
        return self._resume(end.native_ref, end.native_ref, failure)

    def _on_restore_end(self, end: NativeEnd) -> ResumeResult:
        """A restore target's end: its Describe says it is there (or failed) and which restore job made it; only
        that job's waiter is marked."""
        adapter = self._resources.adapter(end.resource_type)
        if not isinstance(adapter, RestoreTargets):
            return ResumeResult(native_ref=end.native_ref, outcome="ignored", reason="no restore end for this type")
        try:
            status: OperationStatus = adapter.target_status(end.native_ref)
        except (NotFound, AwsRefusal) as unknown:
            return ResumeResult(native_ref=end.native_ref, outcome="ignored", reason=str(unknown))
        job_tag = status.details.get("restore_job_id")
        if not job_tag:
            return ResumeResult(native_ref=end.native_ref, outcome="ignored",
                                reason="not a restore target of Coffer's (no restore job tag)")
        failed = status.details.get("failed")
        if not status.done and not failed:
            return ResumeResult(native_ref=end.native_ref, outcome="ignored",
                                reason=f"the event says it ended, the target says {status.details}")
        failure = (f"{failed}: {end.cause}" if end.cause else str(failed)) if failed else None
        return self._resume(end.native_ref, restore_waiter_ref(end.native_ref, str(job_tag)), failure)

    def _resume(self, native_ref: str, waiter_ref: str, failure: str | None) -> ResumeResult:
        """Mark the waiter's end and resume (or fail) the task parked on it, if one is."""
        end = ResumeResult(native_ref=native_ref, outcome="ignored")
        now = self._clock.now()
        job_id, token = self._waiters.mark_done(waiter_ref, now.isoformat(),
                                                int(now.timestamp()) + WAITER_TTL_SECONDS)
        if token is None:
            # the workflow has not parked yet: it finds the mark when it tries, and checks at once
            return end.model_copy(update={"outcome": "marked", "job_id": job_id, "reason": failure})
        if failure is not None:
            sent = self._workflows.fail_task(token, "NativeOperationFailed", failure)
            return end.model_copy(update={"outcome": "failed" if sent else "gone", "job_id": job_id,
                                          "reason": failure})
        sent = self._workflows.resume(token, {"job_id": job_id, "done": True})
        return end.model_copy(update={"outcome": "resumed" if sent else "gone", "job_id": job_id})
