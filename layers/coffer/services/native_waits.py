"""ResumeNative: AWS's event that a snapshot ended resumes the backup parked on it (domain/native_waits.py).

An event is a hint, not proof: anyone who can put an event on a bus a rule listens to, or invoke this function,
could name a snapshot. So the snapshot's state is read back with one Describe, and only a snapshot that is
complete resumes its job (a failed one fails it, with AWS's reason). Events arrive at least once: a second one
finds the same waiter and its token spent (SendTaskSuccess answers TaskTimedOut / InvalidToken, swallowed), and a
late one for a job that has ended finds nobody waiting.
"""

from __future__ import annotations

from coffer.domain.clock import Clock
from coffer.domain.errors import AwsRefusal, NativeOperationFailed, NotFound
from coffer.domain.native_waits import WAITER_TTL_SECONDS, CompletionEvent, ResumeResult, native_end
from coffer.ports.native_waiters import NativeWaiters
from coffer.ports.resource_registry import ResourceAdapters
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
        now = self._clock.now()
        job_id, token = self._waiters.mark_done(end.native_ref, now.isoformat(),
                                                int(now.timestamp()) + WAITER_TTL_SECONDS)
        if token is None:
            # the workflow has not parked yet: it finds the mark when it tries, and checks at once
            return ResumeResult(native_ref=end.native_ref, outcome="marked", job_id=job_id, reason=failure)
        if failure is not None:
            sent = self._workflows.fail_task(token, "NativeOperationFailed", failure)
            return ResumeResult(native_ref=end.native_ref, outcome="failed" if sent else "gone", job_id=job_id,
                                reason=failure)
        sent = self._workflows.resume(token, {"job_id": job_id, "done": True})
        return ResumeResult(native_ref=end.native_ref, outcome="resumed" if sent else "gone", job_id=job_id)
