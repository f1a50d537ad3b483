"""Snapshots that take simulated minutes, and the events AWS sends when they end.

moto finishes every snapshot at once, so a workflow that waits for one never waits, and a poll loop costs the
same as an event-driven wait. With :class:`NativeDurations` a test or bench gives an operation a duration on the
twin's clock (the handlers' injected clock, plus whatever :meth:`NativeDurations.advance` added)::

    twin.native.set("ec2:CreateSnapshot", minutes=10)          # pending, completed 10 simulated minutes later
    twin.native.set("ec2:CreateSnapshot", minutes=5, fail="disk gone")   # error, with that StateMessage
    twin.native.set("rds:CreateDBSnapshot", minutes=10, event=False)     # completes, but its event is lost
    twin.native.advance(timedelta(minutes=10))                 # time passes: what is due completes

Until then the snapshot is ``pending`` (EBS) or ``creating`` (RDS DB and cluster snapshots), as the Describe
calls show; a Describe made after its due time finds it completed (the clock may pass without ``advance``). When
it completes the twin puts AWS's own event on the default bus of the snapshot's account and region (EventBridge
rules then deliver it as usual, :mod:`.event_delivery`):

- EBS: ``EBS Snapshot Notification`` from ``aws.ec2``, detail ``event: createSnapshot``, ``result: succeeded``
  or ``failed`` with its ``cause``, ``snapshot_id`` and ``source`` as ARNs (AWS writes them
  ``arn:aws:ec2::<region>:snapshot/<id>``, the region where the account would be: kept as AWS sends it).
- RDS: ``RDS DB Snapshot Event`` (``RDS-EVENT-0042``, manual snapshot created) and ``RDS DB Cluster Snapshot
  Event`` (``RDS-EVENT-0075``, manual cluster snapshot created) from ``aws.rds``. A failed RDS snapshot ends
  ``failed`` and sends no event (no documented event ID is emulated for it): only a Describe finds it.

Duration 0 (the default for every operation) changes nothing: moto's snapshot is done at once and no event is
sent, as before this module existed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

__all__ = ["OPERATIONS", "NativeDurations"]

#: the operations that can be given a duration
OPERATIONS = ("ec2:CreateSnapshot", "rds:CreateDBSnapshot", "rds:CreateDBClusterSnapshot")


@dataclass(frozen=True)
class _Setting:
    minutes: float
    fail: str | None
    event: bool


@dataclass
class _Pending:
    operation: str
    model: Any  # moto's Snapshot / DBSnapshot / DBClusterSnapshot
    account: str
    region: str
    started: datetime
    due: datetime
    setting: _Setting


class NativeDurations:
    """The durations given to native operations, and the operations still running (see the module doc)."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._offset = timedelta(0)
        self._lock = threading.RLock()
        self._settings: dict[str, _Setting] = {}
        self._pending: list[_Pending] = []
        self.events: list[dict[str, Any]] = []
        """every event sent so far (the PutEvents entries), for tests"""

    def now(self) -> datetime:
        """The twin's simulated time: the clock plus what :meth:`advance` added."""
        return self.clock().astimezone(UTC) + self._offset

    def set(self, operation: str, minutes: float = 0, *, fail: str | None = None, event: bool = True) -> None:
        """Operations of `operation` started from now take `minutes` simulated minutes, then succeed (or fail with
        the reason `fail`); `event=False` loses their completion event (AWS delivers at least once, but a rule or
        target may be missing or broken)."""
        if operation not in OPERATIONS:
            raise ValueError(f"operation: {operation!r} is not one of {', '.join(OPERATIONS)}")
        if minutes < 0:
            raise ValueError(f"minutes: must be 0 or more, got {minutes}")
        with self._lock:
            self._settings[operation] = _Setting(minutes, fail, event)

    def reset(self) -> None:
        """Every operation instant again (those running still end when due)."""
        with self._lock:
            self._settings.clear()

    def advance(self, delta: timedelta) -> list[dict[str, Any]]:
        """Let `delta` of simulated time pass; complete what is due; the events that sent."""
        if delta < timedelta(0):
            raise ValueError(f"delta: time does not go back ({delta})")
        with self._lock:
            self._offset += delta
        return self.complete_due()

    def running(self) -> list[str]:
        """Identifiers of the operations not yet complete."""
        with self._lock:
            return [_identifier(p) for p in self._pending]

    def complete_due(self) -> list[dict[str, Any]]:
        """Complete every operation whose time has come and send its event; the events sent."""
        now = self.now()
        with self._lock:
            due = [p for p in self._pending if p.due <= now]
            self._pending = [p for p in self._pending if p.due > now]
            for pending in due:
                _finish(pending)
        sent: list[dict[str, Any]] = []
        for pending in due:
            entry = _event(pending, now)
            if entry is not None:
                _put(entry, pending.account, pending.region)
                sent.append(entry)
        with self._lock:
            self.events.extend(sent)
        return sent

    def _started(self, operation: str, model: Any, account: str, region: str) -> None:
        with self._lock:
            setting = self._settings.get(operation)
            if setting is None or setting.minutes == 0:
                return
            now = self.now()
            _begin(operation, model)
            self._pending.append(_Pending(operation, model, account, region, now,
                                          now + timedelta(minutes=setting.minutes), setting))

    @contextmanager
    def installed(self) -> Iterator[NativeDurations]:
        """moto's create calls register a slow operation; its Describe calls first complete what is due."""
        from moto.ec2.models.elastic_block_store import EBSBackend
        from moto.rds.models import RDSBackend

        durations = self
        create_snapshot = EBSBackend.create_snapshot
        create_db_snapshot = RDSBackend.create_db_snapshot
        create_cluster_snapshot = RDSBackend.create_db_cluster_snapshot
        describe_snapshots = EBSBackend.describe_snapshots
        describe_db_snapshots = RDSBackend.describe_db_snapshots
        describe_cluster_snapshots = RDSBackend.describe_db_cluster_snapshots

        def ebs_create(backend: Any, *args: Any, **kwargs: Any) -> Any:
            snapshot = create_snapshot(backend, *args, **kwargs)
            if not kwargs.get("from_ami"):  # an AMI's own snapshots follow the AMI, not this setting
                durations._started("ec2:CreateSnapshot", snapshot, backend.account_id, backend.region_name)
            return snapshot

        def rds_create(backend: Any, *args: Any, **kwargs: Any) -> Any:
            snapshot = create_db_snapshot(backend, *args, **kwargs)
            durations._started("rds:CreateDBSnapshot", snapshot, backend.account_id, backend.region_name)
            return snapshot

        def cluster_create(backend: Any, *args: Any, **kwargs: Any) -> Any:
            snapshot = create_cluster_snapshot(backend, *args, **kwargs)
            durations._started("rds:CreateDBClusterSnapshot", snapshot, backend.account_id, backend.region_name)
            return snapshot

        def after_due(original: Callable[..., Any]) -> Callable[..., Any]:
            def describe(backend: Any, *args: Any, **kwargs: Any) -> Any:
                durations.complete_due()
                return original(backend, *args, **kwargs)
            return describe

        with mock.patch.object(EBSBackend, "create_snapshot", ebs_create), \
                mock.patch.object(RDSBackend, "create_db_snapshot", rds_create), \
                mock.patch.object(RDSBackend, "create_db_cluster_snapshot", cluster_create), \
                mock.patch.object(EBSBackend, "describe_snapshots", after_due(describe_snapshots)), \
                mock.patch.object(RDSBackend, "describe_db_snapshots", after_due(describe_db_snapshots)), \
                mock.patch.object(RDSBackend, "describe_db_cluster_snapshots", after_due(describe_cluster_snapshots)):
            yield self


def _identifier(pending: _Pending) -> str:
    model = pending.model
    return str(getattr(model, "id", None) or getattr(model, "db_snapshot_identifier", None)
               or model.db_cluster_snapshot_identifier)


def _begin(operation: str, model: Any) -> None:
    if operation == "ec2:CreateSnapshot":
        model.status = "pending"
    else:
        model.status = "creating"
        if hasattr(model, "percent_progress"):
            model.percent_progress = 0


def _finish(pending: _Pending) -> None:
    model, failed = pending.model, pending.setting.fail is not None
    if pending.operation == "ec2:CreateSnapshot":
        model.status = "error" if failed else "completed"
        if failed:
            model.state_message = pending.setting.fail
    else:
        model.status = "failed" if failed else "available"
        if hasattr(model, "percent_progress"):
            model.percent_progress = 100


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(pending: _Pending, now: datetime) -> dict[str, Any] | None:
    """The PutEvents entry AWS sends when `pending` ends (None: the event is lost, or AWS sends none)."""
    setting, model, region = pending.setting, pending.model, pending.region
    if not setting.event:
        return None
    if pending.operation == "ec2:CreateSnapshot":
        # AWS's documented shape: the ARNs carry the region where the account would be
        snapshot = f"arn:aws:ec2::{region}:snapshot/{model.id}"
        detail: dict[str, Any] = {"event": "createSnapshot", "result": "failed" if setting.fail else "succeeded",
                  "cause": setting.fail or "", "request-id": "", "snapshot_id": snapshot,
                  "source": f"arn:aws:ec2::{region}:volume/{model.volume.id}",
                  "startTime": _iso(pending.started), "endTime": _iso(now)}
        return {"Source": "aws.ec2", "DetailType": "EBS Snapshot Notification", "Resources": [snapshot],
                "Detail": json.dumps(detail), "EventBusName": "default"}
    if setting.fail:
        return None
    cluster = pending.operation == "rds:CreateDBClusterSnapshot"
    arn = model.db_cluster_snapshot_arn if cluster else model.db_snapshot_arn
    identifier = model.db_cluster_snapshot_identifier if cluster else model.db_snapshot_identifier
    detail = {
              "EventCategories": ["creation"], "SourceType": "CLUSTER_SNAPSHOT" if cluster else "SNAPSHOT",
              "SourceArn": arn, "Date": now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
              "SourceIdentifier": identifier,
              "Message": "Manual cluster snapshot created" if cluster else "Manual snapshot created",
              "EventID": "RDS-EVENT-0075" if cluster else "RDS-EVENT-0042"}
    return {"Source": "aws.rds", "DetailType": "RDS DB Cluster Snapshot Event" if cluster else "RDS DB Snapshot Event",
            "Resources": [arn], "Detail": json.dumps(detail), "EventBusName": "default"}


def _put(entry: dict[str, Any], account: str, region: str) -> None:
    """Put the event as the service does: straight onto the account's default bus (no caller, no IAM)."""
    from moto.events.models import events_backends

    events_backends[account][region].put_events([entry])
