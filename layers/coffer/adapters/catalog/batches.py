"""DynamoDB's batch calls as the catalog uses them: one partition's JSON documents (pk, sk, doc) read with
BatchGetItem (100 keys a call) or, for a run of neighbouring sort keys, with one Query of their range, and written
with BatchWriteItem (25 a call).

What DynamoDB leaves unprocessed - it throttled part of the batch - is asked again after a pause that grows (full
jitter, capped), as AWS advises, instead of at once: a tight loop would only be throttled again.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

GET_BATCH = 100  # BatchGetItem's limit
WRITE_BATCH = 25  # BatchWriteItem's limit
#: the first pause before unprocessed items are asked again, and the longest
_FIRST_PAUSE = 0.05
_LONGEST_PAUSE = 2.0

Sleep = Callable[[float], None]


def _pause(attempt: int) -> float:
    return random.uniform(0, min(_LONGEST_PAUSE, _FIRST_PAUSE * 2 ** attempt))


def get_docs(db: DynamoDBClient, table: str, pk: str, sort_keys: Sequence[str], *,
             sleep: Sleep = time.sleep) -> dict[str, dict[str, Any]]:
    """sort key -> its document, for those of `sort_keys` that exist (strongly consistent reads)."""
    found: dict[str, dict[str, Any]] = {}
    unique = list(dict.fromkeys(sort_keys))
    for start in range(0, len(unique), GET_BATCH):
        request: dict[str, Any] = {table: {
            "Keys": [{"pk": {"S": pk}, "sk": {"S": key}} for key in unique[start:start + GET_BATCH]],
            "ConsistentRead": True}}
        attempt = 0
        while request:
            if attempt:
                sleep(_pause(attempt))
            response = db.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table, []):
                found[item["sk"]["S"]] = json.loads(item["doc"]["S"])
            request = dict(response.get("UnprocessedKeys") or {})
            attempt += 1
    return found


def range_docs(db: DynamoDBClient, table: str, pk: str, sort_keys: Sequence[str], *,
               sleep: Sleep = time.sleep) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """(sort key -> document for those of `sort_keys` that exist, the other sort keys found between the first and
    the last of them): one strongly consistent Query of the range instead of a BatchGetItem per 100 keys.

    Why: DynamoDB bills a BatchGetItem per item, each rounded up to 4 KB (a 400-byte record costs a full read unit),
    and a Query by the bytes it reads, summed: a listing batch's records cost a tenth. `sort_keys` are meant to be
    neighbours (a page of an S3 listing, which sorts as DynamoDB does: by UTF-8 bytes). Where they are not - the range
    holds more other documents than wanted ones - the Query stops there and the keys it did not reach are read with
    BatchGetItem, so a scattered set never costs more than twice its own size in reads.
    """
    wanted = set(sort_keys)
    if not wanted:
        return {}, []
    found: dict[str, dict[str, Any]] = {}
    others: list[str] = []
    reached = ""
    paginator = db.get_paginator("query")
    pages = paginator.paginate(
        TableName=table, ConsistentRead=True, KeyConditionExpression="pk = :p AND sk BETWEEN :lo AND :hi",
        ExpressionAttributeValues={":p": {"S": pk}, ":lo": {"S": min(wanted)}, ":hi": {"S": max(wanted)}})
    for page in pages:
        for item in page.get("Items", []):
            reached = item["sk"]["S"]
            if reached in wanted:
                found[reached] = json.loads(item["doc"]["S"])
            else:
                others.append(reached)
        if len(others) > len(wanted):  # not neighbours: read the rest key by key
            rest = [key for key in sort_keys if key > reached]
            found.update(get_docs(db, table, pk, rest, sleep=sleep))
            break
    return found, others


def forget_docs(db: DynamoDBClient, table: str, pk: str, sort_keys: Iterable[str], *,
                sleep: Sleep = time.sleep) -> None:
    """Delete these documents of partition `pk` (those missing: nothing happens)."""
    write_all(db, table, ({"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": key}}}} for key in sort_keys),
              sleep=sleep)


def put_docs(db: DynamoDBClient, table: str, pk: str, docs: dict[str, dict[str, Any]], *,
             sleep: Sleep = time.sleep) -> None:
    """Each document under its sort key in partition `pk` (a put: written over if it exists)."""
    write_all(db, table, ({"PutRequest": {"Item": {"pk": {"S": pk}, "sk": {"S": key}, "doc": {"S": json.dumps(doc)}}}}
                          for key, doc in docs.items()), sleep=sleep)


def write_all(db: DynamoDBClient, table: str, requests: Iterable[dict[str, Any]], *,
              sleep: Sleep = time.sleep) -> None:
    """BatchWriteItem's put and delete requests, 25 a call, until none is left unprocessed."""
    pending = list(requests)
    for start in range(0, len(pending), WRITE_BATCH):
        request: dict[str, Any] = {table: pending[start:start + WRITE_BATCH]}
        attempt = 0
        while request:
            if attempt:
                sleep(_pause(attempt))
            response = db.batch_write_item(RequestItems=request)
            request = dict(response.get("UnprocessedItems") or {})
            attempt += 1
