"""Continuous backup (point-in-time recovery) with AWS Backup's semantics. Pure rules, no AWS calls.

A resource under continuous protection has ONE continuous recovery point per vault, whose restorable window is
[max(active since, now - retention), now]; a restore picks any moment T in it (`Metadata.RestoreTime`, or
`UseLatestRestorableTime=true`). Retention is 1 to 35 days (Lifecycle.DeleteAfterDays; 35 when unset) and there
is no cold storage, as in AWS Backup. One continuous backup per resource: a second vault is refused.

- DynamoDB: the table's own PITR (UpdateContinuousBackups, RecoveryPeriodInDays), restored with
  RestoreTableToPointInTime into a new table.
- RDS: automated backups (BackupRetentionPeriod), restored with RestoreDBInstanceToPointInTime.
- Aurora: the cluster's automated backups (ModifyDBCluster BackupRetentionPeriod), restored with
  RestoreDBClusterToPointInTime into a new cluster (RestoreToTime, or UseLatestRestorableTime as given).
- S3: a versioned bucket sends its Object Created / Object Deleted events to EventBridge; each event's object
  version is copied into the vault content-addressed and appended to the bucket's change journal (the catalog).
  A full backup taken when protection starts is the base; the journal covers every change from just before
  it. The state of a key at T is the base's version replayed with the key's journal events up to T
  (`resolve`): deleted keys absent, overwritten ones at their version as of T.
- Other types are refused, naming why (CONTINUOUS_REFUSALS).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from coffer.domain.errors import InvalidInput
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.manifest import ObjectEntry
from coffer.domain.resources import ResourceType

MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 35
DEFAULT_RETENTION_DAYS = 35
#: restore Metadata keys of a continuous recovery point (RDS's own parameter names)
RESTORE_TIME = "RestoreTime"
USE_LATEST = "UseLatestRestorableTime"

CONTINUOUS_TYPES = frozenset({ResourceType.S3, ResourceType.DYNAMODB, ResourceType.RDS, ResourceType.AURORA})
CONTINUOUS_REFUSALS: Mapping[ResourceType, str] = {
    ResourceType.EBS: "EBS has no point-in-time recovery (AWS Backup offers continuous backup for S3, RDS and "
                      "Aurora only); back it up with snapshots",
    ResourceType.EC2: "EC2 instances have no point-in-time recovery; back them up with images",
    ResourceType.DOCUMENTDB: "AWS Backup offers no continuous backup for DocumentDB; back the cluster up with "
                             "snapshots",
    ResourceType.NEPTUNE: "AWS Backup offers no continuous backup for Neptune; back the cluster up with snapshots",
}


def continuous_lifecycle(resource_type: ResourceType, lifecycle: Lifecycle) -> Lifecycle:
    """The lifecycle of a continuous backup request (retention 35 days when unset), or InvalidInput naming the
    field: a type without point-in-time recovery, a retention outside 1-35 days, or cold storage."""
    problems = []
    if resource_type not in CONTINUOUS_TYPES:
        problems.append(f"EnableContinuousBackup: {resource_type} cannot be backed up continuously: "
                        f"{CONTINUOUS_REFUSALS.get(resource_type, 'not supported')}")
    days = lifecycle.delete_after_days
    if days is not None and not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
        problems.append(f"Lifecycle.DeleteAfterDays: {days}; continuous backups are kept "
                        f"{MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} days")
    if lifecycle.move_to_cold_storage_after_days is not None:
        problems.append("Lifecycle.MoveToColdStorageAfterDays: continuous backups do not go to cold storage")
    if problems:
        raise InvalidInput(problems)
    return lifecycle if days is not None else lifecycle.model_copy(update={"delete_after_days": DEFAULT_RETENTION_DAYS})


# ---- protection -----------------------------------------------------------------------------------
class ProtectionState(StrEnum):
    #: turned on; for S3 the base backup is running (changes are journaled already), nothing restorable yet
    ENABLING = "ENABLING"
    #: restorable from `active_since` on
    ACTIVE = "ACTIVE"


class Protection(BaseModel):
    """A resource's continuous protection, as the catalog keeps it (one per resource)."""

    model_config = ConfigDict(frozen=True)

    resource_arn: str
    resource_type: ResourceType
    vault_name: str
    recovery_point_id: str
    retention_days: int = Field(ge=MIN_RETENTION_DAYS, le=MAX_RETENTION_DAYS)
    state: ProtectionState = ProtectionState.ENABLING
    #: when protection was turned on (for S3: the journal starts here, before the base backup)
    enabled_at: datetime
    #: the earliest restorable moment: when the base backup completed (S3) or PITR was on (DynamoDB, RDS)
    active_since: datetime | None = None
    #: the job that turned it on
    job_id: str
    #: what the resource had before (e.g. RDS's BackupRetentionPeriod), to put back if protection is removed
    previous: dict[str, Any] = Field(default_factory=dict)
    version: int = 0

    def window(self, now: datetime) -> tuple[datetime, datetime] | None:
        """[earliest, latest] restorable moments now, or None before the protection is active."""
        if self.state is not ProtectionState.ACTIVE or self.active_since is None:
            return None
        return max(self.active_since, now - timedelta(days=self.retention_days)), now


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput([f"{field}: '{text}' is not an ISO 8601 time (e.g. 2026-11-25T10:00:00Z)"]) from None
    if moment.tzinfo is None:
        raise InvalidInput([f"{field}: '{text}' has no time zone (give Z or +00:00)"])
    return moment.astimezone(UTC)


def restore_time(metadata: Mapping[str, str], protection: Protection | None, recovery_point_id: str,
                 now: datetime) -> datetime:
    """The moment a restore of a continuous recovery point goes back to, or InvalidInput naming the field.

    Exactly one of RestoreTime (ISO 8601) and UseLatestRestorableTime=true; the moment must lie in the window.
    """
    given, latest = metadata.get(RESTORE_TIME), metadata.get(USE_LATEST, "").lower()
    if latest not in ("", "true", "false"):
        raise InvalidInput([f"Metadata.{USE_LATEST}: '{metadata[USE_LATEST]}' is not true or false"])
    if given and latest == "true":
        raise InvalidInput([f"Metadata.{RESTORE_TIME}: give either {RESTORE_TIME} or {USE_LATEST}=true, not both"])
    if not given and latest != "true":
        raise InvalidInput([f"Metadata.{RESTORE_TIME}: required to restore continuous recovery point "
                            f"{recovery_point_id} (or {USE_LATEST}=true)"])
    window = protection.window(now) if protection is not None else None
    if window is None:
        raise InvalidInput([f"RecoveryPointArn: continuous recovery point {recovery_point_id} is not restorable "
                            "yet (its protection is still starting)"])
    earliest, newest = window
    moment = newest if latest == "true" else parse_time(given or "", f"Metadata.{RESTORE_TIME}")
    if not earliest <= moment <= newest:
        raise InvalidInput([f"Metadata.{RESTORE_TIME}: {format_time(moment)} is outside the restorable window "
                            f"{format_time(earliest)} .. {format_time(newest)} of continuous recovery point "
                            f"{recovery_point_id} ({protection.retention_days if protection else '?'} days kept)"])
    return moment


# ---- the S3 change journal -------------------------------------------------------------------------
class ChangeKind(StrEnum):
    #: a new object version (its bytes are in the vault)
    CREATED = "created"
    #: a delete marker (the key disappears; earlier versions stay in the bucket)
    DELETE_MARKER = "delete-marker"
    #: one version (or delete marker) removed for good: the version underneath becomes current again
    VERSION_DELETED = "version-deleted"
    #: a new version whose bytes Coffer could not copy (gone before the event was handled, over 5 GiB, ...)
    LOST = "lost"


#: DynamoDB's sort key limit is 1024 bytes; the journal's is the object key, a separator and the sequencer.
SEQUENCER_WIDTH = 32
MAX_KEY_BYTES = 1024 - 1 - SEQUENCER_WIDTH
#: sorts before every character an S3 key can hold: a key's entries stay together, in S3's key order
KEY_SEPARATOR = "\x00"


def normalise_sequencer(sequencer: str) -> str:
    """S3's rule: left-pad the shorter sequencer with zeros, then compare (hex, case-insensitive)."""
    return sequencer.upper().rjust(SEQUENCER_WIDTH, "0")


class JournalEntry(BaseModel):
    """One change to one key of a continuously protected bucket."""

    model_config = ConfigDict(frozen=True)

    key: str
    sequencer: str
    time: datetime
    kind: ChangeKind
    version_id: str | None = None
    #: CREATED: the version as a restore writes it back (bytes content-addressed in the vault by sha256)
    object: ObjectEntry | None = None
    #: LOST: why
    reason: str | None = None
    event_id: str | None = None

    @property
    def sort_key(self) -> str:
        return journal_sort_key(self.key, self.sequencer)


def journal_sort_key(key: str, sequencer: str) -> str:
    if len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidInput([f"detail.object.key: keys over {MAX_KEY_BYTES} bytes cannot be journaled "
                            "(DynamoDB's sort key limit)"])
    return f"{key}{KEY_SEPARATOR}{normalise_sequencer(sequencer)}"


@dataclass(frozen=True)
class Resolution:
    """What a point-in-time restore writes for one key: an object, nothing (absent at T), or a failure."""

    entry: ObjectEntry | None = None
    failed: str | None = None


_MARKER = "delete marker"


def resolve(base: ObjectEntry | None, events: Iterable[JournalEntry], at: datetime) -> Resolution:
    """The key as it was at `at`: the base backup's version, then the journal's events up to `at` replayed
    in S3's order (sequencer) on the key's version stack, as S3 versioning does.

    The base version starts the stack only if it predates the journal (the journal has no CREATED event for
    it); otherwise the journal alone, which holds every change since just before the base, is exact.
    """
    ordered = sorted(events, key=lambda e: normalise_sequencer(e.sequencer))
    journaled = {e.version_id for e in ordered if e.kind in (ChangeKind.CREATED, ChangeKind.LOST)}
    stack: list[tuple[str | None, ObjectEntry | str]] = []
    if base is not None and (base.version_id is None or base.version_id not in journaled):
        stack.append((base.version_id, base))
    for event in ordered:
        if event.time > at:
            continue
        if event.kind is ChangeKind.CREATED and event.object is not None:
            if event.version_id is None:
                # versioning suspended: the new "null" version replaces the previous "null" one
                stack = [item for item in stack if item[0] is not None]
            elif any(version == event.version_id for version, _ in stack):
                continue
            stack.append((event.version_id, event.object))
        elif event.kind is ChangeKind.LOST:
            stack.append((event.version_id, f"version {event.version_id} was not kept: {event.reason}"))
        elif event.kind is ChangeKind.DELETE_MARKER:
            stack.append((event.version_id, _MARKER))
        elif event.kind is ChangeKind.VERSION_DELETED:
            stack = [item for item in stack if item[0] != event.version_id]
    if not stack:
        return Resolution()
    top = stack[-1][1]
    if isinstance(top, ObjectEntry):
        return Resolution(entry=top)
    return Resolution() if top == _MARKER else Resolution(failed=top)


# ---- S3's EventBridge events ----------------------------------------------------------------------
class _S3Object(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    key: str = Field(min_length=1)
    size: int | None = None
    etag: str | None = None
    version_id: str | None = Field(default=None, alias="version-id")
    sequencer: str = Field(min_length=1)


class _S3Bucket(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=3)


class S3EventDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    bucket: _S3Bucket
    object: _S3Object
    reason: str | None = None
    deletion_type: str | None = Field(default=None, alias="deletion-type")


class S3ObjectEvent(BaseModel):
    """An S3 Object Created / Object Deleted event as EventBridge delivers it (source aws.s3)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(min_length=1)
    detail_type: str = Field(alias="detail-type", pattern=r"^Object (Created|Deleted)$")
    source: str = Field(pattern=r"^aws\.s3$")
    time: datetime
    detail: S3EventDetail

    @property
    def kind(self) -> ChangeKind:
        if self.detail_type == "Object Created":
            return ChangeKind.CREATED
        if self.detail.deletion_type == "Delete Marker Created":
            return ChangeKind.DELETE_MARKER
        return ChangeKind.VERSION_DELETED

    @property
    def version_id(self) -> str | None:
        version = self.detail.object.version_id
        return None if version in (None, "", "null") else version

    @property
    def resource_arn(self) -> str:
        return f"arn:aws:s3:::{self.detail.bucket.name}"


#: S3's tag events on EventBridge: a key whose tags changed (PutObjectTagging, DeleteObjectTagging)
TAG_EVENT_TYPES = ("Object Tags Added", "Object Tags Deleted")


class _S3TaggedObject(BaseModel):
    """A tag event's object: S3 names its key, version and ETag - no size and no sequencer (those are Object
    Created's and Object Deleted's)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    key: str = Field(min_length=1)
    etag: str | None = None
    version_id: str | None = Field(default=None, alias="version-id")


class S3TagEventDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    bucket: _S3Bucket
    object: _S3TaggedObject


class S3TagEvent(BaseModel):
    """An S3 Object Tags Added / Object Tags Deleted event as EventBridge delivers it (source aws.s3): S3 backups
    read that key's tags at their next run (domain/tag_freshness.py)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(min_length=1)
    detail_type: str = Field(alias="detail-type", pattern=r"^Object Tags (Added|Deleted)$")
    source: str = Field(pattern=r"^aws\.s3$")
    time: datetime
    detail: S3TagEventDetail
