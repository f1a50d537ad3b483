"""Queued backups wait for their turn without polling: a FIFO per resource (or per EBS volume's snapshot slots) in
the catalog, and Step Functions task tokens.

A queued job's workflow parks in its WaitForTurn task (``lambda:invoke.waitForTaskToken``): the AwaitTurn step
puts the task token in the queue of what it waits for, and the job that frees it (ends, giving back the lease or
a snapshot slot) wakes the oldest waiter with SendTaskSuccess. The woken job asks for the lease again (a request
that arrived meanwhile may have taken it: it queues again, keeping its place).

| record            | key                                                     | attributes           |
|-------------------|---------------------------------------------------------|----------------------|
| one waiting job   | pk=TURNS#<resource or volume arn>, sk=<queued at>#<job> | token (task token)   |

No wake-up is lost: a waiter enters the queue *before* it looks whether what it waits for is free (and wakes
itself if so), and a job ends (frees it) *before* it wakes the head of the queue; whichever comes second sees
the other. A waiter also asks again on its own after its task's timeout (a few poll intervals), which covers a
waker that crashed between ending its job and waking, and a start window that passes while it waits.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from coffer.adapters.catalog.conditions import condition_held
from coffer.domain.jobs import Job, queued_since
from coffer.domain.snapshot_quota import volume_of
from coffer.ports.workflows import Workflows

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_log = logging.getLogger(__name__)

#: waiters looked at per wake-up before giving up (each gone one is removed)
_TRIES = 5


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class TurnQueue:
    def __init__(self, client: DynamoDBClient, table: str, workflows: Workflows) -> None:
        self._db = client
        self._table = table
        self._workflows = workflows

    @staticmethod
    def _sort_key(queued_at: datetime, job_id: str) -> str:
        return f"{queued_at.isoformat()}#{job_id}"

    def enter(self, key: str, queued_at: datetime, job_id: str, token: str) -> None:
        """Wait in `key`'s queue, ordered by when the job was first queued (a job woken but beaten to the lease
        comes back to its place, with its new task token)."""
        self._db.put_item(TableName=self._table, Item={
            "pk": _s(f"TURNS#{key}"), "sk": _s(self._sort_key(queued_at, job_id)), "job_id": _s(job_id),
            "token": _s(token)})

    def leave(self, key: str, queued_at: datetime, job_id: str) -> None:
        self._db.delete_item(TableName=self._table,
                             Key={"pk": _s(f"TURNS#{key}"), "sk": _s(self._sort_key(queued_at, job_id))})

    def ahead(self, key: str, queued_at: datetime, job_id: str) -> int:
        """How many jobs wait before this one in `key`'s queue (all of them if it is not in the queue yet)."""
        response = self._db.query(TableName=self._table, Select="COUNT",
                                  KeyConditionExpression="pk = :p AND sk < :me", ConsistentRead=True,
                                  ExpressionAttributeValues={":p": _s(f"TURNS#{key}"),
                                                             ":me": _s(self._sort_key(queued_at, job_id))})
        return int(response["Count"])

    def waiting(self, key: str) -> list[str]:
        """Job ids waiting in `key`'s queue, oldest first (one page: for tests and `coffer jobs`)."""
        response = self._db.query(TableName=self._table, KeyConditionExpression="pk = :p",
                                  ExpressionAttributeValues={":p": _s(f"TURNS#{key}")}, ConsistentRead=True)
        return [item["job_id"]["S"] for item in response["Items"]]

    def wake_next(self, key: str) -> str | None:
        """Wake the oldest job waiting in `key`'s queue; returns its id (None: nobody waits)."""
        for _ in range(_TRIES):
            response = self._db.query(TableName=self._table, KeyConditionExpression="pk = :p",
                                      ExpressionAttributeValues={":p": _s(f"TURNS#{key}")}, ConsistentRead=True,
                                      Limit=1)
            if not response["Items"]:
                return None
            item = response["Items"][0]
            if not self._take(item):
                continue  # another waker took it (or the waiter came back with a new token): look again
            if self.wake(item["token"]["S"]):
                return str(item["job_id"]["S"])
        return None

    def _take(self, waiter: dict[str, Any]) -> bool:
        # Rule: one waker per waiter - the record is taken out only by whoever finds it still there.
        return condition_held(lambda: self._db.delete_item(
            TableName=self._table, Key={"pk": waiter["pk"], "sk": waiter["sk"]}, ConditionExpression="#t = :t",
            ExpressionAttributeNames={"#t": "token"}, ExpressionAttributeValues={":t": waiter["token"]}))

    def after_backup_ended(self, job: Job) -> None:
        """A backup job ended (its lease and snapshot slots are back): leave its own place in the queue if it
        waited, and wake the oldest job waiting for its resource and for each volume it held a slot of.

        A wake-up that cannot be sent is logged, not raised: the job has ended durably, and the waiter asks
        again on its own when its WaitForTurn task times out."""
        queued_at = queued_since(job)
        keys = list(dict.fromkeys([job.resource_arn, *(v for v in map(volume_of, job.quota_keys) if v)]))
        try:
            if queued_at is not None:
                self.leave(job.resource_arn, queued_at, job.job_id)
            for key in keys:
                self.wake_next(key)
        except (ClientError, BotoCoreError) as error:
            _log.warning("could not wake the jobs queued behind job %s: %s", job.job_id, error)

    def wake(self, token: str) -> bool:
        """Resume a parked WaitForTurn task; False when nobody waits on that token any more (that waiter timed
        out and is asking again on its own)."""
        return self._workflows.resume(token, {"woken": True})
