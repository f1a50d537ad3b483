"""Copy quotas: a counting semaphore per (quota, destination account, destination region) in the catalog.

AWS limits the snapshot copies in progress per destination region (EBS: 20 concurrent snapshot copies; RDS:
20 DB snapshot copies in progress). Coffer counts its own copy jobs against these limits, so a burst of copies
waits in the Copy workflow instead of failing in EC2 or RDS:

| record                    | key                                      | attributes                               |
|---------------------------|------------------------------------------|------------------------------------------|
| one semaphore             | pk=QUOTA#<kind>#<account>#<region>, sk=QUOTA | holders: map job id -> when it took it |

- ``acquire(key, job, limit)`` adds the job to ``holders`` with a condition on the map's size (DynamoDB
  evaluates it atomically with the write: N concurrent acquires never exceed the limit). A job already
  holding it acquires again without counting twice. When the semaphore is full, holders whose jobs have ended
  (a crash between the job's end and its release cannot happen - they are one transaction - but a job record
  deleted by hand can) are removed, each with a condition that it is still there, and the acquire is tried
  once more.
- ``release_for(job)`` names the slots a job gives back; ``release_item`` is the transaction item that gives one
  back. It is written in the same ``TransactWriteItems`` as the job's terminal state (dynamodb.py save_job
  ``also``): a job never ends still holding a slot, whether it COMPLETED, FAILED, ABORTED or EXPIRED.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from coffer.adapters.catalog.conditions import condition_held
from coffer.domain.jobs import Job, JobKind
from coffer.ports.quotas import SlotRelease

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(key: str) -> dict[str, dict[str, str]]:
    return {"pk": _s(f"QUOTA#{key}"), "sk": _s("QUOTA")}


def release_item(table: str, slot: SlotRelease) -> TransactWriteItemTypeDef:
    """The TransactWriteItems item that gives `slot` back (removing an absent entry is harmless)."""
    return {"Update": {"TableName": table, "Key": _key(slot.key), "UpdateExpression": "REMOVE holders.#j",
                       "ExpressionAttributeNames": {"#j": slot.job_id}}}


class CopyQuotas:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    def acquire(self, key: str, job_id: str, limit: int, now: datetime,
                ended: Callable[[str], bool] | None = None) -> list[str] | None:
        """Take a slot for `job_id`: None when it holds one, else the jobs holding all `limit` slots.

        `ended(job_id)` says whether a holder's job is over (its slot is then taken back before giving up)."""
        self._ensure(key)
        if self._try(key, job_id, limit, now):
            return None
        holders = self.holders(key)
        stale = [holder for holder in holders if holder != job_id and ended is not None and ended(holder)]
        for holder in stale:
            self._remove_if_held(key, holder)
        if stale and self._try(key, job_id, limit, now):
            return None
        return sorted(set(holders) - set(stale))

    def holders(self, key: str) -> dict[str, str]:
        item = self._db.get_item(TableName=self._table, Key=_key(key), ConsistentRead=True).get("Item")
        if item is None:
            return {}
        return {job: value["S"] for job, value in item.get("holders", {}).get("M", {}).items()}

    def release_for(self, job: Job) -> list[SlotRelease]:
        """What gives `job`'s slots back, for the transaction that ends it: a copy job's copy slot, a backup job's
        snapshot slots (EBS snapshots in progress per volume, domain/snapshot_quota.py); else nothing."""
        if job.kind is JobKind.BACKUP:
            return [SlotRelease(key, job.job_id) for key in job.quota_keys]
        if job.kind is not JobKind.COPY or job.destination is None or job.destination.quota_key is None:
            return []
        return [SlotRelease(job.destination.quota_key, job.job_id)]

    def release_now(self, key: str, job_id: str) -> None:
        """Give a slot back outside a job's ending (a job that took some of its slots and must wait for the rest)."""
        self._db.update_item(TableName=self._table, Key=_key(key), UpdateExpression="REMOVE holders.#j",
                             ExpressionAttributeNames={"#j": job_id})

    def _ensure(self, key: str) -> None:
        # The semaphore starts empty; creating it again (or racing another creator) changes nothing.
        self._db.update_item(TableName=self._table, Key=_key(key),
                             UpdateExpression="SET holders = if_not_exists(holders, :empty)",
                             ExpressionAttributeValues={":empty": {"M": {}}})

    def _try(self, key: str, job_id: str, limit: int, now: datetime) -> bool:
        # Rule: at most `limit` holders; a holder taking its slot again does not count twice.
        return condition_held(lambda: self._db.update_item(
            TableName=self._table, Key=_key(key), UpdateExpression="SET holders.#j = :at",
            ConditionExpression="attribute_exists(holders.#j) OR size(holders) < :limit",
            ExpressionAttributeNames={"#j": job_id},
            ExpressionAttributeValues={":at": _s(now.isoformat()), ":limit": {"N": str(limit)}}))

    def _remove_if_held(self, key: str, job_id: str) -> None:
        # Rule: a stale holder is removed only if it still holds the slot (another remover may be first).
        condition_held(lambda: self._db.update_item(
            TableName=self._table, Key=_key(key), UpdateExpression="REMOVE holders.#j",
            ConditionExpression="attribute_exists(holders.#j)", ExpressionAttributeNames={"#j": job_id}))
