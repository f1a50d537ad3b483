"""Job metrics: every state change the catalog announces, also as CloudWatch metrics in the embedded metric format
(Powertools' `single_metric`: one EMF line in the function's log per metric, no API call; CloudWatch Logs turns
it into the metric).

| metric | unit | dimensions (each with `service`) | when |
|---|---|---|---|
| `Jobs` | Count | JobType, State | every transition (the alarms: State FAILED, EXPIRED, ABORTED, PARTIAL) |
| `Jobs` | Count | JobType, State, Vault | the same, per vault (the dashboard) |
| `BytesProtected`, `ObjectsProtected` | Bytes, Count | Vault | a backup that ends COMPLETED or PARTIAL |
| `BytesCopied`, `ObjectsCopied`, `ObjectsReused` | Bytes, Count | JobType, Vault | a backup or copy that ends so |
| `RestoreDuration` | Seconds | Vault | a restore that ends, from its creation |
| `RecoveryPointStatus` | Count | Status, Vault | a recovery point made or changing status |

Each metric carries the time of the transition (the injected clock's), not the time it was printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from coffer.domain.job_events import Change, JobChange, RecoveryPointChange
from coffer.domain.jobs import JobKind, JobState
from coffer.ports.job_events import JobEvents

_ENDED_WITH_DATA = (JobState.COMPLETED, JobState.PARTIAL)


class EmfJobMetrics:
    """ports/job_events.py JobEvents: records each change as EMF metrics (printing cannot fail an invocation)."""

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace

    def publish(self, changes: Sequence[Change]) -> None:
        # POWERTOOLS_METRICS_DISABLED (as Powertools' own Metrics): the twin's in-process functions print no EMF
        if is_metrics_disabled():
            return
        for change in changes:
            if isinstance(change, RecoveryPointChange):
                rp = change.recovery_point
                self._metric("RecoveryPointStatus", MetricUnit.Count, 1, rp.completion_date or rp.creation_date,
                             Status=rp.status.value, Vault=rp.vault_name)
            else:
                self._job(change)

    def _job(self, change: JobChange) -> None:
        job = change.job
        transition = job.history[change.state_version - 1]
        at, kind, state = transition.at, job.kind.value, transition.state.value
        self._metric("Jobs", MetricUnit.Count, 1, at, JobType=kind, State=state)
        self._metric("Jobs", MetricUnit.Count, 1, at, JobType=kind, State=state, Vault=job.vault_name)
        if transition.state not in _ENDED_WITH_DATA and not (job.kind is JobKind.RESTORE and transition.state.terminal):
            return
        progress = job.progress
        if job.kind is JobKind.BACKUP:
            self._metric("BytesProtected", MetricUnit.Bytes, progress.bytes, at, Vault=job.vault_name)
            self._metric("ObjectsProtected", MetricUnit.Count, progress.objects, at, Vault=job.vault_name)
        if job.kind in (JobKind.BACKUP, JobKind.COPY):
            self._metric("BytesCopied", MetricUnit.Bytes, progress.bytes_copied, at, JobType=kind, Vault=job.vault_name)
            self._metric("ObjectsCopied", MetricUnit.Count, progress.objects_copied, at, JobType=kind,
                         Vault=job.vault_name)
            self._metric("ObjectsReused", MetricUnit.Count, progress.objects_reused, at, JobType=kind,
                         Vault=job.vault_name)
        if job.kind is JobKind.RESTORE:
            seconds = max(0.0, (at - job.created_at).total_seconds())
            self._metric("RestoreDuration", MetricUnit.Seconds, seconds, at, Vault=job.vault_name)

    def _metric(self, name: str, unit: MetricUnit, value: float, at: datetime, **dimensions: str) -> None:
        with single_metric(name=name, unit=unit, value=value, namespace=self._namespace) as metric:
            for key, dimension in dimensions.items():
                metric.add_dimension(name=key, value=dimension)
            metric.set_timestamp(at)


class AnnouncedAndCounted:
    """The catalog's one JobEvents: each change counted as metrics (in the log, at once), then announced on
    EventBridge (when the stack has a bus)."""

    def __init__(self, metrics: EmfJobMetrics, events: JobEvents | None) -> None:
        self._metrics = metrics
        self._events = events

    def publish(self, changes: Sequence[Change]) -> None:
        self._metrics.publish(changes)
        if self._events is not None:
            self._events.publish(changes)
