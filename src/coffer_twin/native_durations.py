"""Snapshots and restores that take simulated minutes, and the events AWS sends when they end.

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

Restores (a restore job's new volume, DB instance or DB cluster) are given durations the same way::

    twin.native.set("ec2:CreateVolume", minutes=10)                       # creating, available 10 minutes later
    twin.native.set("rds:RestoreDBInstanceFromDBSnapshot", minutes=10)    # creating, then available
    twin.native.set("rds:RestoreDBClusterFromSnapshot", minutes=10, fail="incompatible-restore")

Until then the volume / DB instance / DB cluster is ``creating`` (DescribeVolumes, DescribeDBInstances,
DescribeDBClusters); then ``available`` (or ``error`` / ``failed``), and AWS's event goes on the default bus:

- EBS: ``EBS Volume Notification`` from ``aws.ec2``, detail ``event: createVolume``, ``result: available`` or
  ``failed`` with its ``cause``, ``request-id``; ``resources`` the volume's ARN (with its account, as AWS writes
  it: ``arn:aws:ec2:<region>:<account>:volume/<id>``). Only volumes made by a CreateVolume call (not an instance's
  or an AMI's own volumes).
- RDS: ``RDS DB Instance Event`` (``RDS-EVENT-0005``, creation, "DB instance created") and ``RDS DB Cluster
  Event`` (``RDS-EVENT-0170``, creation, "DB cluster created") from ``aws.rds``, with the resource's ``Tags`` in
  the detail as RDS adds them to its EventBridge events. Point-in-time restores (RestoreDBInstanceToPointInTime,
  RestoreDBClusterToPointInTime) end the same way. A failed RDS restore ends ``failed`` and sends no event (no
  documented event ID is emulated for it): only a Describe finds it.

Duration 0 (the default for every operation) changes nothing: moto's snapshot or volume is done at once and no
event is sent, as before this module existed - except that a DB cluster restored from a snapshot is ``available``
at once (moto answers ``creating`` to its first Describe, the only one a restore used to poll through).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

__all__ = ["OPERATIONS", "NativeDurations"]

#: the operations that can be given a duration
OPERATIONS = ("ec2:CreateSnapshot", "rds:CreateDBSnapshot", "rds:CreateDBClusterSnapshot", *(
    RESTORES := ("ec2:CreateVolume", "rds:RestoreDBInstanceFromDBSnapshot", "rds:RestoreDBInstanceToPointInTime",
                 "rds:RestoreDBClusterFromSnapshot", "rds:RestoreDBClusterToPointInTime")))
#: the restores of a DB cluster (the others of RESTORES make a volume or a DB instance)
CLUSTER_RESTORES = ("rds:RestoreDBClusterFromSnapshot", "rds:RestoreDBClusterToPointInTime")
#: the attribute that holds a restored volume's or cluster's state while it runs (their status is computed by moto)
_HELD = "_coffer_twin_status"


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
        """moto's create and restore calls register a slow operation; its Describe calls first complete what is
        due."""
        from moto.ec2.models.elastic_block_store import EBSBackend, Volume
        from moto.rds.models import DBCluster, RDSBackend

        durations = self

        def started(operation: str, original: Callable[..., Any], *,
                    when: Callable[[dict[str, Any]], bool] = lambda kwargs: True) -> Callable[..., Any]:
            def create(backend: Any, *args: Any, **kwargs: Any) -> Any:
                model = original(backend, *args, **kwargs)
                if operation in CLUSTER_RESTORES:
                    model.status = "available"  # moto's "creating" for one Describe: instant unless given minutes
                if when(kwargs):
                    durations._started(operation, model, backend.account_id, backend.region_name)
                return model
            return create

        def after_due(original: Callable[..., Any]) -> Callable[..., Any]:
            def describe(backend: Any, *args: Any, **kwargs: Any) -> Any:
                durations.complete_due()
                return original(backend, *args, **kwargs)
            return describe

        def held(prop: Any) -> property:
            """A volume's or cluster's status (computed by moto): the twin's while it runs, moto's otherwise."""
            def status(model: Any) -> Any:
                return model.__dict__.get(_HELD) or prop.fget(model)
            return property(status, prop.fset)

        creates = [
            # an AMI's own snapshots follow the AMI, not this setting
            (EBSBackend, "create_snapshot", "ec2:CreateSnapshot", lambda kwargs: not kwargs.get("from_ami")),
            # only the CreateVolume call passes multi_attach_enabled (an instance's or an AMI's volumes do not)
            (EBSBackend, "create_volume", "ec2:CreateVolume", lambda kwargs: "multi_attach_enabled" in kwargs),
            (RDSBackend, "create_db_snapshot", "rds:CreateDBSnapshot", None),
            (RDSBackend, "create_db_cluster_snapshot", "rds:CreateDBClusterSnapshot", None),
            (RDSBackend, "restore_db_instance_from_db_snapshot", "rds:RestoreDBInstanceFromDBSnapshot", None),
            (RDSBackend, "restore_db_instance_to_point_in_time", "rds:RestoreDBInstanceToPointInTime", None),
            (RDSBackend, "restore_db_cluster_from_snapshot", "rds:RestoreDBClusterFromSnapshot", None),
            (RDSBackend, "restore_db_cluster_to_point_in_time", "rds:RestoreDBClusterToPointInTime", None),
        ]
        describes = [(EBSBackend, "describe_snapshots"), (EBSBackend, "describe_volumes"),
                     (RDSBackend, "describe_db_snapshots"), (RDSBackend, "describe_db_cluster_snapshots"),
                     (RDSBackend, "describe_db_instances"), (RDSBackend, "describe_db_clusters")]
        with ExitStack() as patches:
            for cls, name, operation, when in creates:
                wrapped = (started(operation, getattr(cls, name), when=when) if when
                           else started(operation, getattr(cls, name)))
                patches.enter_context(mock.patch.object(cls, name, wrapped))
            for cls, name in describes:
                patches.enter_context(mock.patch.object(cls, name, after_due(getattr(cls, name))))
            for cls in (Volume, DBCluster):
                patches.enter_context(mock.patch.object(cls, "status", held(cls.status)))
            yield self


def _identifier(pending: _Pending) -> str:
    model = pending.model
    for name in ("id", "db_snapshot_identifier", "db_cluster_snapshot_identifier", "db_instance_identifier",
                 "db_cluster_identifier"):
        if getattr(model, name, None):
            return str(getattr(model, name))
    return repr(model)


def _begin(operation: str, model: Any) -> None:
    if operation == "ec2:CreateSnapshot":
        model.status = "pending"
    elif operation == "ec2:CreateVolume" or operation in CLUSTER_RESTORES:
        model.__dict__[_HELD] = "creating"  # moto computes their status: held here until they end
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
    elif pending.operation == "ec2:CreateVolume":
        if failed:
            model.__dict__[_HELD] = "error"
        else:
            model.__dict__.pop(_HELD, None)  # moto's own: available (or in-use)
    elif pending.operation in CLUSTER_RESTORES:
        model.__dict__.pop(_HELD, None)
        model.status = "failed" if failed else "available"
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
    if pending.operation == "ec2:CreateVolume":
        volume = f"arn:aws:ec2:{region}:{pending.account}:volume/{model.id}"
        detail = {"event": "createVolume", "result": "failed" if setting.fail else "available",
                  "cause": setting.fail or "", "request-id": ""}
        return {"Source": "aws.ec2", "DetailType": "EBS Volume Notification", "Resources": [volume],
                "Detail": json.dumps(detail), "EventBusName": "default"}
    if setting.fail:
        return None
    if pending.operation in RESTORES:
        return _database_event(pending, now)
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


def _database_event(pending: _Pending, now: datetime) -> dict[str, Any]:
    """RDS's event that a restored DB instance or cluster was created, with its tags as RDS adds them."""
    model, cluster = pending.model, pending.operation in CLUSTER_RESTORES
    arn = str(model.arn)
    detail = {"EventCategories": ["creation"], "SourceType": "CLUSTER" if cluster else "DB_INSTANCE",
              "SourceArn": arn, "Date": now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
              "SourceIdentifier": model.db_cluster_identifier if cluster else model.db_instance_identifier,
              "Message": "DB cluster created" if cluster else "DB instance created",
              "EventID": "RDS-EVENT-0170" if cluster else "RDS-EVENT-0005",
              "Tags": {tag["Key"]: tag["Value"] for tag in (model.tags or [])}}
    return {"Source": "aws.rds", "DetailType": "RDS DB Cluster Event" if cluster else "RDS DB Instance Event",
            "Resources": [arn], "Detail": json.dumps(detail), "EventBusName": "default"}


def _put(entry: dict[str, Any], account: str, region: str) -> None:
    """Put the event as the service does: straight onto the account's default bus (no caller, no IAM)."""
    from moto.events.models import events_backends

    events_backends[account][region].put_events([entry])
