"""What each lifecycle sweep run did, page by page or batch by batch, in the catalog table.

| record                      | key                                              | call                 |
|-----------------------------|--------------------------------------------------|----------------------|
| one swept page of a run     | pk=SWEEP#<run id>, sk=PAGE#<vault>#<seq:08d>     | Put                  |
| a run's pages and batches   | pk=SWEEP#<run id>, sk begins with PAGE# / BATCH# | Query                |
| a run (its totals)          | pk=SWEEP#<run id>, sk=RUN;                       | Put once, Update,    |
|                             | gsi1pk=SWEEPS, gsi1sk=<started at>#<run id>      | Get; Query gsi1      |
| one swept batch of a run    | pk=SWEEP#<run id>, sk=BATCH#<seq:08d>            | Put once (in a       |
| one blob GC batch of a run  | pk=SWEEP#<run id>, sk=BLOBS#<seq:08d>            | transaction with the |
|                             |                                                  | run's totals)        |
| one lock renewal item       | pk=SWEEP#<run id>, sk=RENEW#<seq:013d>           | (as a batch)         |
| a recovery point's renewal  | pk=SWEEP#<run id>, sk=RENEWAL#<recovery point>   | Put; Update ADD done |
| in a run (items expected,   |                                                  | (a number set: a     |
| items done)                 |                                                  | retry adds nothing)  |
| live recovery point ids of  | gsi1pk=VAULT#<vault> (the recovery points'       | Query gsi1, pk and   |
| a vault (the listing step)  | index), status <> EXPIRED                        | status projected     |

`doc` is the page's or batch's report as JSON: what was moved to cold, expired and skipped, each with its reason.
A retried page overwrites its own record with the same facts. A batch is recorded once, together with the
run's totals (one transaction): a retried batch whose first attempt was recorded adds nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from coffer.adapters.catalog.conditions import condition_held
from coffer.domain.errors import NotFound
from coffer.domain.recovery_points import RecoveryPointStatus
from coffer.ports.vault_records import PageStart

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class SweepRecords:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    def put_page(self, run_id: str, vault: str, seq: int, doc: dict[str, Any]) -> None:
        self._db.put_item(TableName=self._table, Item={
            "pk": _s(f"SWEEP#{run_id}"), "sk": _s(f"PAGE#{vault}#{seq:08d}"), "doc": _s(json.dumps(doc))})

    def pages(self, run_id: str) -> Iterator[dict[str, Any]]:
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(TableName=self._table, KeyConditionExpression="pk = :p",
                                       ExpressionAttributeValues={":p": _s(f"SWEEP#{run_id}")}, ConsistentRead=True):
            for item in page["Items"]:
                yield json.loads(item["doc"]["S"])

    # ---- runs ---------------------------------------------------------------------------------------
    def _run_key(self, run_id: str) -> dict[str, Any]:
        return {"pk": _s(f"SWEEP#{run_id}"), "sk": _s("RUN")}

    def start_run(self, run_id: str, started_at: str) -> None:
        """Record the run once (a retried first listing finds it and changes nothing)."""
        # Rule: a run is started once; its start time (the blob GC cutoff) never moves.
        condition_held(lambda: self._db.put_item(TableName=self._table, Item={
            **self._run_key(run_id), "gsi1pk": _s("SWEEPS"), "gsi1sk": _s(f"{started_at}#{run_id}"),
            "run_id": _s(run_id), "state": _s("RUNNING"), "started_at": _s(started_at)},
            ConditionExpression="attribute_not_exists(pk)"))

    def get_run(self, run_id: str) -> dict[str, Any]:
        item = self._db.get_item(TableName=self._table, Key=self._run_key(run_id), ConsistentRead=True).get("Item")
        if item is None:
            raise NotFound(f"sweep run {run_id} not found")
        return _plain(item)

    def list_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest runs first (one Query page)."""
        page = self._db.query(TableName=self._table, IndexName="gsi1", KeyConditionExpression="gsi1pk = :p",
                              ExpressionAttributeValues={":p": _s("SWEEPS")}, ScanIndexForward=False, Limit=limit)
        return [_plain(item) for item in page.get("Items", [])]

    def set_run(self, run_id: str, fields: Mapping[str, Any]) -> None:
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": _value(value) for i, value in enumerate(fields.values())}
        self._db.update_item(
            TableName=self._table, Key=self._run_key(run_id),
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            # Rule: only a started run is changed (no stray run items from a late retry).
            ConditionExpression="attribute_exists(pk)", ExpressionAttributeNames=names,
            ExpressionAttributeValues=values)

    def record_batch(self, run_id: str, kind: str, seq: int, doc: dict[str, Any], totals: Mapping[str, int],
                     blocked_vaults: set[str] | None = None) -> dict[str, Any]:
        """Record one batch (kind BATCH or BLOBS) and add its counts to the run's totals, once: a retry whose
        first attempt was recorded returns the recorded document instead."""
        key = {"pk": _s(f"SWEEP#{run_id}"), "sk": _s(f"{kind}#{seq:08d}")}
        adds = {name: count for name, count in totals.items() if count}
        names = {f"#t{i}": name for i, name in enumerate(adds)}
        values: dict[str, Any] = {f":t{i}": {"N": str(count)} for i, count in enumerate(adds.values())}
        clauses = [f"#t{i} :t{i}" for i in range(len(adds))]
        if blocked_vaults:
            names["#blocked"] = "gc_blocked"
            values[":blocked"] = {"SS": sorted(blocked_vaults)}
            clauses.append("#blocked :blocked")
        names["#n"] = f"{kind.lower()}_recorded"
        values[":one"] = {"N": "1"}
        clauses.append("#n :one")
        if not condition_held(lambda: self._db.transact_write_items(TransactItems=[
                # Rule: a batch is recorded (and counted) once.
                {"Put": {"TableName": self._table, "Item": {**key, "doc": _s(json.dumps(doc))},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Update": {"TableName": self._table, "Key": self._run_key(run_id),
                            "UpdateExpression": "ADD " + ", ".join(clauses),
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}},
        ])):
            item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
            if item is None:
                raise NotFound(f"sweep run {run_id} not found")
            return dict(json.loads(item["doc"]["S"]))
        return doc

    def batches(self, run_id: str, kind: str = "BATCH") -> Iterator[dict[str, Any]]:
        """A run's batch records (kind BATCH or BLOBS), in order, a Query page at a time."""
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(TableName=self._table, KeyConditionExpression="pk = :p AND begins_with(sk, :k)",
                                       ExpressionAttributeValues={":p": _s(f"SWEEP#{run_id}"), ":k": _s(f"{kind}#")},
                                       ConsistentRead=True):
            for item in page["Items"]:
                yield json.loads(item["doc"]["S"])

    # ---- lock renewals of kept-forever recovery points (domain/lock_renewal.py) ----------------------
    def _renewal_key(self, run_id: str, recovery_point_id: str) -> dict[str, Any]:
        return {"pk": _s(f"SWEEP#{run_id}"), "sk": _s(f"RENEWAL#{recovery_point_id}")}

    def expect_renewal(self, run_id: str, recovery_point_id: str, items: int, until: str) -> None:
        """Record how many items the recovery point's renewal has in this run (a retried batch writes the same)."""
        self._db.update_item(TableName=self._table, Key=self._renewal_key(run_id, recovery_point_id),
                             UpdateExpression="SET expected = :n, #u = :u", ExpressionAttributeNames={"#u": "until"},
                             ExpressionAttributeValues={":n": {"N": str(items)}, ":u": _s(until)})

    def renewal_done(self, run_id: str, recovery_point_id: str, seq: int) -> bool:
        """Add the item to the done set (a number set: a retried item adds nothing); True once all are done.
        DynamoDB serialises the updates: of two items finishing together, only the later sees the full set."""
        item = self._db.update_item(
            TableName=self._table, Key=self._renewal_key(run_id, recovery_point_id), UpdateExpression="ADD done :s",
            ConditionExpression="attribute_exists(expected)", ExpressionAttributeValues={":s": {"NS": [str(seq)]}},
            ReturnValues="ALL_NEW")["Attributes"]
        return len(item["done"]["NS"]) >= int(item["expected"]["N"])

    # ---- the listing step ---------------------------------------------------------------------------
    def live_recovery_point_ids(self, vault: str, start: PageStart | None,
                                limit: int = 1000) -> tuple[list[str], PageStart | None]:
        """One Query page of the vault's recovery points that are not EXPIRED (ids only, oldest first) and where
        the next page starts (None: done). EXPIRED ones are read (Limit counts them) but not returned."""
        params: dict[str, Any] = {
            "TableName": self._table, "IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :p",
            "FilterExpression": "#st <> :expired", "ProjectionExpression": "pk, #st",
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": {":p": _s(f"VAULT#{vault}"),
                                          ":expired": _s(RecoveryPointStatus.EXPIRED.value)},
            "Limit": limit}
        if start:
            params["ExclusiveStartKey"] = start
        page = self._db.query(**params)
        ids = [item["pk"]["S"].removeprefix("RP#") for item in page.get("Items", [])]
        return ids, page.get("LastEvaluatedKey")


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return _s(value)
    return _s(json.dumps(value))


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A run item as plain values (numbers as int, string sets as sorted lists)."""
    out: dict[str, Any] = {}
    for name, value in item.items():
        (kind, inner), = value.items()
        out[name] = int(inner) if kind == "N" else sorted(inner) if kind == "SS" else inner
    return out
