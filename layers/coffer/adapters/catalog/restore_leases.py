"""Restores and expiry of one recovery point never overlap: a restore lease in the catalog, by conditional writes.

A restore reads a recovery point's manifest, parts and blobs (or its native backup) for as long as it runs;
an expiry deletes them. Each side takes its turn with a conditional write on one lock record per recovery
point, so DynamoDB, not timing, decides who goes first:

| record                         | key                     | attributes                                      |
|--------------------------------|-------------------------|-------------------------------------------------|
| restore lease of a recovery pt | pk=RP#<id>, sk=RPLOCK   | restores: string set of restore job ids,        |
|                                |                         | expiry: who began deleting it (absent if none)  |

- ``begin_restore(rp, job)`` adds the job to ``restores`` only while no expiry has begun and the recovery
  point is COMPLETED or PARTIAL (one transaction); otherwise RecoveryPointDeleting. Many restores may
  hold one recovery point at once.
- ``end_restore(rp, job)`` removes the job (a second call is a no-op). A restore job calls it once it is
  terminal; a job that ended without calling it holds nothing useful: the sweeper may end its hold with
  ``end_restore`` after checking that the job is terminal (a terminal job never runs again).
- ``begin_expiry(rp, by)`` — what the lifecycle sweeper must call before deleting anything —
  marks the lock ``expiry`` and the recovery point DELETING (one transaction) only while no restore holds
  it; otherwise RecoveryPointInUse naming the restores.

The lock is its own record, not attributes of the recovery point's item: every writer of a recovery point
puts the whole item (optimistic locking on ``version``) and would drop attributes it does not know about.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coffer.adapters.catalog.conditions import condition_held
from coffer.domain.errors import ConcurrentUpdate, RecoveryPointDeleting, RecoveryPointInUse
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_RESTORABLE = (RecoveryPointStatus.COMPLETED, RecoveryPointStatus.PARTIAL)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class RestoreLeases:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    def _lock_key(self, recovery_point_id: str) -> dict[str, Any]:
        return {"pk": _s(f"RP#{recovery_point_id}"), "sk": _s("RPLOCK")}

    def _rp_key(self, recovery_point_id: str) -> dict[str, Any]:
        return {"pk": _s(f"RP#{recovery_point_id}"), "sk": _s("RP")}

    def begin_restore(self, recovery_point_id: str, job_id: str) -> None:
        """Hold the recovery point for restore job `job_id` (again: no-op), or RecoveryPointDeleting."""
        if not condition_held(lambda: self._db.transact_write_items(TransactItems=[
                # Rule: only a COMPLETED or PARTIAL recovery point is restored (never one being deleted).
                {"ConditionCheck": {
                    "TableName": self._table, "Key": self._rp_key(recovery_point_id),
                    "ConditionExpression": "#st IN (:completed, :partial)",
                    "ExpressionAttributeNames": {"#st": "status"},
                    "ExpressionAttributeValues": {":completed": _s(_RESTORABLE[0].value),
                                                  ":partial": _s(_RESTORABLE[1].value)}}},
                # Rule: a restore begins only while no expiry has begun on the recovery point.
                {"Update": {
                    "TableName": self._table, "Key": self._lock_key(recovery_point_id),
                    "UpdateExpression": "ADD restores :job",
                    "ConditionExpression": "attribute_not_exists(expiry)",
                    "ExpressionAttributeValues": {":job": {"SS": [job_id]}}}},
        ])):
            raise RecoveryPointDeleting(f"recovery point {recovery_point_id} is being deleted or is not restorable")

    def end_restore(self, recovery_point_id: str, job_id: str) -> None:
        """Release `job_id`'s hold (a second call, or one for a job that held nothing, changes nothing)."""
        condition_held(lambda: self._db.update_item(
            TableName=self._table, Key=self._lock_key(recovery_point_id),
            UpdateExpression="DELETE restores :job", ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":job": {"SS": [job_id]}}))

    def restores(self, recovery_point_id: str) -> list[str]:
        """The restore jobs holding the recovery point now."""
        item = self._db.get_item(TableName=self._table, Key=self._lock_key(recovery_point_id),
                                 ConsistentRead=True).get("Item") or {}
        return sorted(item.get("restores", {}).get("SS", []))

    def begin_expiry(self, recovery_point: RecoveryPoint, by: str) -> RecoveryPoint:
        """Mark the recovery point DELETING for sweeper `by`, unless a restore holds it (RecoveryPointInUse).

        Returns the recovery point as now stored. A second call by the same sweeper finds it DELETING already
        and is refused with ConcurrentUpdate (its version moved on): re-read before retrying.
        """
        rp = recovery_point
        deleting = rp.model_copy(update={"status": RecoveryPointStatus.DELETING, "version": rp.version + 1})
        if not condition_held(lambda: self._db.transact_write_items(TransactItems=[
                # Rule: an expiry begins only while no restore holds the recovery point.
                {"Update": {
                    "TableName": self._table, "Key": self._lock_key(rp.recovery_point_id),
                    "UpdateExpression": "SET expiry = :by",
                    "ConditionExpression": "attribute_not_exists(restores) AND "
                                           "(attribute_not_exists(expiry) OR expiry = :by)",
                    "ExpressionAttributeValues": {":by": _s(by)}}},
                # Rule: a recovery point changes only from the version the writer read.
                {"Update": {
                    "TableName": self._table, "Key": self._rp_key(rp.recovery_point_id),
                    "UpdateExpression": "SET #st = :deleting, #doc = :doc, version = :next",
                    "ConditionExpression": "version = :v",
                    "ExpressionAttributeNames": {"#st": "status", "#doc": "doc"},
                    "ExpressionAttributeValues": {
                        ":deleting": _s(RecoveryPointStatus.DELETING.value), ":doc": _s(deleting.model_dump_json()),
                        ":next": {"N": str(deleting.version)}, ":v": {"N": str(rp.version)}}}},
        ])):
            holders = self.restores(rp.recovery_point_id)
            if holders:
                raise RecoveryPointInUse(rp.recovery_point_id, holders)
            raise ConcurrentUpdate(f"recovery point {rp.recovery_point_id} changed since version {rp.version}")
        return deleting
