"""The catalog: one DynamoDB table, every access pattern a GetItem, Query or transaction (never a Scan).

| access pattern                         | key                                           | call            |
|----------------------------------------|-----------------------------------------------|-----------------|
| job by id                              | pk=JOB#<id>, sk=JOB                           | GetItem         |
| jobs of a day, newest first            | gsi1pk=JOBS#<yyyy-mm-dd>, gsi1sk=<created>#id | Query gsi1      |
| job for an idempotency token           | pk=IDEMPOTENCY#<token>, sk=IDEMPOTENCY        | GetItem         |
| running job of a resource (the lease)  | pk=LEASE#<resource arn>, sk=LEASE             | GetItem         |
| recovery point by id                   | pk=RP#<id>, sk=RP                             | GetItem         |
| recovery points of a vault, by time    | gsi1pk=VAULT#<name>, gsi1sk=RP#<created>#id   | Query gsi1      |
| (the sweeper pages it oldest first)    | recovery_points_page: Limit + start key       | Query gsi1      |
| batch results (parts) of a job         | pk=JOB#<id>, sk begins_with PART#             | Query           |
| last backed-up state of S3 objects     | pk=OBJIDX#<vault>#<bucket>, sk=<key>          | BatchGetItem    |
| restores holding a recovery point, its | pk=RP#<id>, sk=RPLOCK                         | GetItem, Update |
| expiry (restore_leases.py)             |                                               | (transactions)  |
| jobs queued for a resource or a volume | pk=TURNS#<arn>, sk=<queued at>#<job id>       | Put, Query,     |
| (turns.py: their task tokens)          |                                               | DeleteItem      |
| what a bucket's last backup listed and | pk=LISTED#<vault>#<bucket>, sk=LISTED         | GetItem, Update |
| when (listing_marks.py)                |                                               |                 |
| snapshots in progress per EBS volume   | pk=QUOTA#EBS_VOLUME_SNAPSHOTS#<volume arn>    | Update          |
| (copy_quota.py's semaphore)            |                                               |                 |

Records carry their pydantic model as JSON in `doc` plus the attributes that keys and conditions need.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from coffer.adapters.catalog.batches import forget_docs, get_docs, put_docs, range_docs
from coffer.adapters.catalog.conditions import condition_held, refusals
from coffer.adapters.catalog.copy_quota import release_item
from coffer.domain.errors import ConcurrentUpdate, IdempotencyConflict, NotFound, ResourceBusy
from coffer.domain.job_events import Change, JobChange, announcing, recovery_point_changes
from coffer.domain.jobs import Job, JobKind
from coffer.domain.recovery_points import RecoveryPoint
from coffer.ports.catalog import DuplicateRequest, IndexedObjects
from coffer.ports.job_events import JobEvents
from coffer.ports.quotas import SlotRelease
from coffer.ports.turns import Turns

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef



def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class DynamoCatalog:
    """`turns`: told about every backup job this catalog ends, once the write is done (it wakes the jobs queued
    behind it); None where no job of this account ends (a copy's destination).

    `events`: told about every state change this catalog writes (a job's transition, a recovery point created or
    its status changed), once the write is done, all of one write in one call (domain/job_events.py); None: no job
    events (a copy's destination catalog, reached with another account's role)."""

    def __init__(self, client: DynamoDBClient, table: str, turns: Turns | None = None,
                 events: JobEvents | None = None) -> None:
        self._db = client
        self._table = table
        self._turns = turns
        self._events = events

    # ---- jobs -----------------------------------------------------------------------------------
    def _job_item(self, job: Job) -> dict[str, Any]:
        return {
            "pk": _s(f"JOB#{job.job_id}"),
            "sk": _s("JOB"),
            "gsi1pk": _s(f"JOBS#{job.created_at.date().isoformat()}"),
            "gsi1sk": _s(f"{job.created_at.isoformat()}#{job.job_id}"),
            "state": _s(job.state.value),
            "version": _n(job.version),
            "doc": _s(job.model_dump_json()),
        }

    def create_job(self, job: Job, fingerprint: str, take_lease: bool, ttl: int, announce: bool = True) -> Job:
        """Write a new job, its idempotency record and (for backups) the resource's lease atomically.

        Raises DuplicateRequest when the token was seen with the same request, IdempotencyConflict when it
        was seen with another, ResourceBusy when another job holds the resource.
        """
        changes: list[Change] = []
        if self._events is not None and announce:
            job, changes = announcing(job)
        items: list[TransactWriteItemTypeDef] = [
            # Rule: a job id is never reused.
            {"Put": {"TableName": self._table, "Item": self._job_item(job),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ]
        if job.idempotency_token:
            # Rule: one job per idempotency token (every event may arrive twice).
            items.append({"Put": {"TableName": self._table, "Item": {
                "pk": _s(f"IDEMPOTENCY#{job.idempotency_token}"), "sk": _s("IDEMPOTENCY"),
                "job_id": _s(job.job_id), "fingerprint": _s(fingerprint), "ttl": _n(ttl)},
                "ConditionExpression": "attribute_not_exists(pk)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
        if take_lease:
            # Rule: one running job per resource (AWS Backup's behaviour).
            items.append({"Put": {"TableName": self._table, "Item": {
                "pk": _s(f"LEASE#{job.resource_arn}"), "sk": _s("LEASE"), "job_id": _s(job.job_id)},
                "ConditionExpression": "attribute_not_exists(pk)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
        refused = refusals(lambda: self._db.transact_write_items(TransactItems=items))
        if refused is not None:
            # which of its items refused it, and each as it was then
            kinds = ["JOB", *(["IDEMPOTENCY"] if job.idempotency_token else []), *(["LEASE"] if take_lease else [])]
            self._explain_refusal(job, fingerprint, {kind: found for kind, found in zip(kinds, refused, strict=False)
                                                     if found is not None})
        self._announce(changes)
        return job

    def _explain_refusal(self, job: Job, fingerprint: str, refused: dict[str, dict[str, Any]]) -> None:
        """Say why create_job's transaction was refused, from the items DynamoDB refused it on, as they were at that
        moment: a lease released since must not turn "resource busy" into "token used before"."""
        if "IDEMPOTENCY" in refused:
            record = refused["IDEMPOTENCY"] or self._get(f"IDEMPOTENCY#{job.idempotency_token}", "IDEMPOTENCY")
            if record is not None:
                if record["fingerprint"]["S"] != fingerprint:
                    raise IdempotencyConflict(
                        f"IdempotencyToken '{job.idempotency_token}' was used for a different request "
                        f"(job {record['job_id']['S']})")
                raise DuplicateRequest(self.get_job(record["job_id"]["S"]))
        if refused.get("LEASE"):
            raise ResourceBusy(job.resource_arn, refused["LEASE"]["job_id"]["S"])
        if "JOB" in refused:
            raise IdempotencyConflict(f"IdempotencyToken '{job.idempotency_token}' was used before "
                                      f"(job {job.job_id} exists)")
        # cancelled for another reason (a concurrent transaction on one of its items): nothing was written
        raise ConcurrentUpdate(f"creating job {job.job_id} collided with another write; try again")

    def get_job(self, job_id: str) -> Job:
        item = self._get(f"JOB#{job_id}", "JOB")
        if item is None:
            raise NotFound(f"job {job_id} not found")
        return Job.model_validate_json(item["doc"]["S"])

    def save_job(self, job: Job, release_lease: bool = False, recovery_point: RecoveryPoint | None = None,
                 also: Sequence[SlotRelease] = ()) -> Job:
        """Write the job's next version, and with it (atomically) the recovery point, the lease release and
        `also`: the quota slots the job gives back (copy_quota.py)."""
        changes: list[Change] = []
        if self._events is not None:
            job, changes = announcing(job)
            if recovery_point is not None:
                # (in a transaction DynamoDB returns no old item: a recovery point is announced here when created)
                changes += recovery_point_changes(recovery_point, None)
        saved = job.with_changes(version=job.version + 1)
        items: list[TransactWriteItemTypeDef] = [{"Put": {
            "TableName": self._table, "Item": self._job_item(saved),
            # Rule: optimistic locking — a job changes only from the version the writer read.
            "ConditionExpression": "version = :v", "ExpressionAttributeValues": {":v": _n(job.version)}}}]
        if recovery_point is not None:
            items.append({"Put": self._rp_put(recovery_point)})
        items.extend(release_item(self._table, slot) for slot in also)
        if release_lease:
            # Rule: only the job holding the lease releases it - said by the Delete's condition, not by a read first.
            # A lease another job holds (a queued job never held it) refuses that item alone: the write goes again
            # without it.
            lease: TransactWriteItemTypeDef = {"Delete": {
                "TableName": self._table, "Key": {"pk": _s(f"LEASE#{job.resource_arn}"), "sk": _s("LEASE")},
                "ConditionExpression": "attribute_not_exists(pk) OR job_id = :j",
                "ExpressionAttributeValues": {":j": _s(job.job_id)}}}
            refused = refusals(lambda: self._db.transact_write_items(TransactItems=[*items, lease]))
            lease_alone = bool(refused) and refused is not None and refused[-1] is not None and all(
                reason is None for reason in refused[:-1])
            written = refused is None or (lease_alone and condition_held(
                lambda: self._db.transact_write_items(TransactItems=items)))
        else:
            written = condition_held(lambda: self._db.transact_write_items(TransactItems=items))
        if not written:
            raise ConcurrentUpdate(f"job {job.job_id} changed since version {job.version}")
        if self._turns is not None and saved.kind is JobKind.BACKUP and saved.state.terminal:
            self._turns.after_backup_ended(saved)
        self._announce(changes)  # after the queued jobs are woken: an EventBridge outage must not stall them
        return saved

    def announce_again(self, job: Job) -> None:
        if job.history:
            self._announce([JobChange(job, len(job.history))])

    def take_lease(self, resource_arn: str, job_id: str, stale_holder: str | None = None) -> str | None:
        """Take the resource's lease for `job_id`; None on success, else the id of the job holding it.

        With `stale_holder`, the lease is taken over only from that job (one that ended without releasing it).
        """
        if stale_holder is None:
            # Rule: one running job per resource; taking it again is a no-op for its holder.
            condition, values = "attribute_not_exists(pk) OR job_id = :j", {":j": _s(job_id)}
        else:
            # Rule: a lease is taken over only from the job the caller found stale.
            condition, values = "job_id = :stale", {":stale": _s(stale_holder)}
        lease = {"pk": _s(f"LEASE#{resource_arn}"), "sk": _s("LEASE"), "job_id": _s(job_id)}
        if not condition_held(lambda: self._db.put_item(
                TableName=self._table, Item=lease, ConditionExpression=condition, ExpressionAttributeValues=values)):
            return self.lease_holder(resource_arn) or "(released meanwhile)"
        return None

    def lease_holder(self, resource_arn: str) -> str | None:
        item = self._get(f"LEASE#{resource_arn}", "LEASE")
        return None if item is None else str(item["job_id"]["S"])

    def list_jobs(self, day: datetime) -> Iterator[Job]:
        for item in self._query_index("gsi1", f"JOBS#{day.date().isoformat()}"):
            yield Job.model_validate_json(item["doc"]["S"])

    # ---- recovery points -------------------------------------------------------------------------
    def _rp_put(self, rp: RecoveryPoint) -> PutTypeDef:
        saved = rp.model_copy(update={"version": rp.version + 1})
        put: PutTypeDef = {"TableName": self._table, "Item": {
            "pk": _s(f"RP#{rp.recovery_point_id}"), "sk": _s("RP"),
            "gsi1pk": _s(f"VAULT#{rp.vault_name}"),
            "gsi1sk": _s(f"RP#{rp.creation_date.isoformat()}#{rp.recovery_point_id}"),
            "status": _s(saved.status.value), "version": _n(saved.version), "doc": _s(saved.model_dump_json())}}
        # Rule: a recovery point changes only from the version the writer read (0 = create).
        if rp.version == 0:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :rv"
            put["ExpressionAttributeValues"] = {":rv": _n(rp.version)}
        return put

    def put_recovery_point(self, rp: RecoveryPoint) -> None:
        old: dict[str, Any] = {}

        def put() -> None:
            # the item as it was (ALL_OLD costs no extra read): its status says whether this write changes it
            old.update(self._db.put_item(**self._rp_put(rp), ReturnValues="ALL_OLD").get("Attributes") or {})

        if not condition_held(put):
            raise ConcurrentUpdate(f"recovery point {rp.recovery_point_id} changed")
        if self._events is not None:
            self._announce(recovery_point_changes(rp, old["status"]["S"] if "status" in old else None))

    def get_recovery_point(self, recovery_point_id: str) -> RecoveryPoint:
        item = self._get(f"RP#{recovery_point_id}", "RP")
        if item is None:
            raise NotFound(f"recovery point {recovery_point_id} not found")
        return RecoveryPoint.model_validate_json(item["doc"]["S"])

    def list_recovery_points(self, vault_name: str) -> Iterator[RecoveryPoint]:
        for item in self._query_index("gsi1", f"VAULT#{vault_name}"):
            yield RecoveryPoint.model_validate_json(item["doc"]["S"])

    def recovery_points_page(self, vault_name: str, token: str | None,
                             limit: int = 100) -> tuple[list[RecoveryPoint], str | None]:
        """One Query page of a vault's recovery points, oldest first (the sweeper's pages): (points, next token).
        The token is the page's LastEvaluatedKey as JSON (None: no more pages)."""
        params: dict[str, Any] = {
            "TableName": self._table, "IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": {":p": _s(f"VAULT#{vault_name}")}, "Limit": limit}
        if token:
            params["ExclusiveStartKey"] = json.loads(token)
        response = self._db.query(**params)
        points = [RecoveryPoint.model_validate_json(item["doc"]["S"]) for item in response["Items"]]
        last = response.get("LastEvaluatedKey")
        return points, (json.dumps(last) if last else None)

    # ---- batch results ---------------------------------------------------------------------------
    def put_part(self, job_id: str, seq: int, doc: dict[str, Any]) -> None:
        """Record one batch's outcome. A retried batch overwrites its own record with the same facts."""
        self._db.put_item(TableName=self._table, Item={
            "pk": _s(f"JOB#{job_id}"), "sk": _s(f"PART#{seq:08d}"), "doc": _s(json.dumps(doc))})

    def get_part(self, job_id: str, seq: int) -> dict[str, Any] | None:
        item = self._db.get_item(TableName=self._table, Key={"pk": _s(f"JOB#{job_id}"), "sk": _s(f"PART#{seq:08d}")},
                                 ConsistentRead=True).get("Item")
        return None if item is None else dict(json.loads(item["doc"]["S"]))

    def list_parts(self, job_id: str) -> Iterator[dict[str, Any]]:
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table, KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues={":p": _s(f"JOB#{job_id}"), ":s": _s("PART#")}, ConsistentRead=True,
        ):
            for item in page["Items"]:
                yield json.loads(item["doc"]["S"])

    # ---- S3 object index (incremental backups) ---------------------------------------------------
    def get_objects(self, vault: str, bucket: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Last backed-up facts of these keys, for change detection: key -> {etag, size, ..., sha256}."""
        return get_docs(self._db, self._table, f"OBJIDX#{vault}#{bucket}", keys)

    def objects_in_range(self, vault: str, bucket: str, keys: Sequence[str]) -> IndexedObjects:
        records, others = range_docs(self._db, self._table, f"OBJIDX#{vault}#{bucket}", keys)
        return IndexedObjects(records, others)

    def put_objects(self, vault: str, bucket: str, records: dict[str, dict[str, Any]]) -> None:
        put_docs(self._db, self._table, f"OBJIDX#{vault}#{bucket}", records)

    def forget_objects(self, vault: str, bucket: str, keys: Sequence[str]) -> None:
        forget_docs(self._db, self._table, f"OBJIDX#{vault}#{bucket}", keys)

    # ---- helpers ---------------------------------------------------------------------------------
    def _announce(self, changes: list[Change]) -> None:
        if changes and self._events is not None:
            self._events.publish(changes)

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._db.get_item(TableName=self._table, Key={"pk": _s(pk), "sk": _s(sk)}, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _query_index(self, index: str, pk: str) -> Iterator[dict[str, Any]]:
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table, IndexName=index, KeyConditionExpression=f"{index}pk = :p",
            ExpressionAttributeValues={":p": _s(pk)}, ScanIndexForward=False,
        ):
            yield from page["Items"]
