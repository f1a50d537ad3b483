"""Native backups wait on AWS's own completion events, not on a poll loop (issue 16).

A snapshot that takes ten minutes cost a poll every PollSeconds: a Lambda invocation, a Describe, a catalog read
and three state transitions each time. Now the start step looks at the snapshot once (StartBackupJob: complete
already, or not), and if it is not done the Backup workflow parks in WaitForSnapshot
(``aws-sdk:dynamodb:updateItem.waitForTaskToken``): the task token goes into a *waiter* record keyed by the
snapshot. AWS's event when the snapshot ends (EBS Snapshot Notification, RDS DB
(Cluster) Snapshot Event) reaches ResumeNative through an EventBridge rule; it confirms the state with one Describe
(an event is a hint, never proof) and resumes the task into CompleteBackup, which looks itself (its Describe,
that gives the size) and completes only a snapshot that is done (a token resumed by anyone else parks again).
The wait's timeout is a slow safety net for a lost event: one check (CheckBackup), and back to waiting, each net
longer than the last.

| record  | key                                | attributes                                        |
|---------|------------------------------------|---------------------------------------------------|
| waiter  | pk=NATIVE#<native ref>, sk=WAITER  | job_id, task_token (the workflow's), done_at, ttl |

Whichever comes second sees the other: the workflow writes its token only if ``done_at`` is not set (else its
condition fails, and it checks again at once), and ResumeNative sets ``done_at`` and reads back the token in one
UpdateItem. Types without a completion event (DynamoDB: a backup is usually AVAILABLE at once; EC2 images;
continuous backup) keep the short poll loop.

Restores wait the same way (RestoreJobs, the Restore workflow's WaitForRestoreEvent): a restored EBS volume ends
with AWS's "EBS Volume Notification" (createVolume, result available or failed), a restored DB instance with "RDS
DB Instance Event" RDS-EVENT-0005 (DB instance created), a DB cluster (Aurora, DocumentDB, Neptune) with "RDS DB
Cluster Event" RDS-EVENT-0170 (DB cluster created). A restore's waiter is keyed by its target *and* its job
(:func:`restore_waiter_ref`): an RDS identifier is the caller's choice and may be restored into again, so a target's
end only ever reaches the job whose tag the target carries (ResumeNative reads it with its one Describe).
DynamoDB restores (no event) and EC2 instance restores keep the poll loop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from coffer.domain.resources import ResourceType

#: the types whose backups wait on AWS's completion events (EBS snapshots; RDS DB and cluster snapshots)
EVENT_TYPES = frozenset({ResourceType.EBS, ResourceType.RDS, ResourceType.AURORA, ResourceType.DOCUMENTDB,
                         ResourceType.NEPTUNE})
#: the safety net grows to at most this many times its first length
SAFETY_NET_GROWTH = 4
#: a waiter record outlives its job's wait by this long (DynamoDB's TTL then removes it)
WAITER_TTL_SECONDS = 7 * 24 * 3600
WAITER_SORT_KEY = "WAITER"


#: RDS events that say a restored database is there (RDS's event categories and messages: "creation")
RESTORE_EVENT_IDS = {"RDS DB Instance Event": "RDS-EVENT-0005", "RDS DB Cluster Event": "RDS-EVENT-0170"}


def restore_waiter_ref(native_ref: str, job_id: str) -> str:
    """What a restore's waiter record is keyed by: its target (the job's native ref) and the job that made it."""
    return f"{native_ref}#{job_id}"


def waiter_key(native_ref: str) -> str:
    """The waiter record's partition key: one per native artefact (its ARN as the job records it)."""
    return f"NATIVE#{native_ref}"


def safety_net_seconds(base: int, started_at: datetime | None, now: datetime, complete_by: datetime | None) -> int:
    """How long WaitForSnapshot waits for the event before it checks on its own: `base` first, then as long as the
    job has run so far (a net that doubles), at most SAFETY_NET_GROWTH x `base`, never past the completion window
    (the check then ends the job ABORTED)."""
    ran = int((now - started_at).total_seconds()) if started_at else 0
    seconds = min(max(base, ran), base * SAFETY_NET_GROWTH)
    if complete_by is not None:
        seconds = min(seconds, max(1, int((complete_by - now).total_seconds()) + 1))
    return max(1, seconds)


class CompletionEvent(BaseModel):
    """An EventBridge event as ResumeNative receives it (only the fields it reads)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    source: str
    detail_type: str = Field(alias="detail-type")
    region: str
    resources: list[str] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)


class NativeEnd(BaseModel):
    """What a completion event names: the artefact (as the job records its native ref) and its type's adapter."""

    resource_type: ResourceType
    native_ref: str
    #: a restore's target (a volume, DB instance or DB cluster), not a backup's snapshot
    restore: bool = False
    #: the event's own reason for a failure (EBS: a volume's createVolume "cause"), named beside the Describe's
    cause: str | None = None


def native_end(event: CompletionEvent, partition: str) -> NativeEnd | None:
    """The snapshot or restore target a completion event is about, or None for an event Coffer does not wait on
    (another EBS event, an RDS event that is not a snapshot's or a database's creation, an automated snapshot:
    Coffer's are manual, named coffer-...)."""
    restored = _restore_end(event, partition)
    if restored is not None:
        return restored
    detail = event.detail
    if event.source == "aws.ec2" and event.detail_type == "EBS Snapshot Notification":
        if detail.get("event") != "createSnapshot":
            return None
        snapshot_id = str(detail.get("snapshot_id") or "").rsplit("/", 1)[-1]
        if not snapshot_id.startswith("snap-"):
            return None
        # as the EBS adapter writes it (adapters/resources/ebs.py snapshot_arn): no account, the region in place
        return NativeEnd(resource_type=ResourceType.EBS,
                         native_ref=f"arn:{partition}:ec2:{event.region}::snapshot/{snapshot_id}")
    if event.source == "aws.rds" and event.detail_type in ("RDS DB Snapshot Event", "RDS DB Cluster Snapshot Event"):
        arn = str(detail.get("SourceArn") or "")
        parts = arn.split(":")
        if len(parts) != 7 or parts[2] != "rds" or not parts[6].startswith("coffer-"):
            return None
        kind = parts[5]
        if kind == "snapshot" and event.detail_type == "RDS DB Snapshot Event":
            return NativeEnd(resource_type=ResourceType.RDS, native_ref=arn)
        if kind == "cluster-snapshot" and event.detail_type == "RDS DB Cluster Snapshot Event":
            # Aurora, DocumentDB and Neptune cluster snapshots are described by the same call
            return NativeEnd(resource_type=ResourceType.AURORA, native_ref=arn)
    return None


def _restore_end(event: CompletionEvent, partition: str) -> NativeEnd | None:
    """A restore's target that an EBS volume or RDS database creation event names (as the adapters write it)."""
    detail = event.detail
    if event.source == "aws.ec2" and event.detail_type == "EBS Volume Notification":
        if detail.get("event") != "createVolume" or len(event.resources) != 1:
            return None
        parts = event.resources[0].split(":")
        if len(parts) != 6 or parts[2] != "ec2" or not parts[5].startswith("volume/vol-") or not parts[4].isdigit():
            return None
        cause = str(detail.get("cause") or "") if detail.get("result") == "failed" else ""
        return NativeEnd(resource_type=ResourceType.EBS, restore=True, cause=cause or None,
                         native_ref=f"arn:{partition}:ec2:{event.region}:{parts[4]}:{parts[5]}")
    if event.source == "aws.rds" and detail.get("EventID") == RESTORE_EVENT_IDS.get(event.detail_type):
        parts = str(detail.get("SourceArn") or "").split(":")
        if len(parts) != 7 or parts[2] != "rds" or not parts[6]:
            return None
        if parts[5] == "db" and event.detail_type == "RDS DB Instance Event":
            return NativeEnd(resource_type=ResourceType.RDS, native_ref=":".join(parts), restore=True)
        if parts[5] == "cluster" and event.detail_type == "RDS DB Cluster Event":
            # Aurora, DocumentDB and Neptune clusters are described by the same call
            return NativeEnd(resource_type=ResourceType.AURORA, native_ref=":".join(parts), restore=True)
    return None


class ResumeResult(BaseModel):
    """What ResumeNative did with one event (logged and returned; nothing reads it back)."""

    native_ref: str | None = None
    #: ignored (not Coffer's, not done yet), resumed, failed (the task was failed), marked (done before the
    #: workflow parked: it finds the mark), gone (nobody waits on that token any more)
    outcome: str
    job_id: str | None = None
    reason: str | None = None
