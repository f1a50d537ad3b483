"""The catalog's vault records: vaults, legal holds, the audit chain head, verify runs.

Same single table as dynamodb.py (pk/sk, gsi1pk/gsi1sk), every access pattern a GetItem, Query or
transaction (never a Scan):

| access pattern                               | key                                                | call        |
|----------------------------------------------|----------------------------------------------------|-------------|
| vault by name                                | pk=VAULT#<name>, sk=VAULT                          | GetItem     |
| vaults by name                               | gsi1pk=VAULTS, gsi1sk=<name>                       | Query gsi1  |
| is a vault empty (any recovery point)        | gsi1pk=VAULT#<name>, Limit 1                       | Query gsi1  |
| recovery points of a vault, created in range | gsi1pk=VAULT#<name>, gsi1sk BETWEEN RP#<a>..RP#<b>~ | Query gsi1 |
| legal hold by id                             | pk=LEGALHOLD#<id>, sk=HOLD                         | GetItem     |
| legal holds, newest first                    | gsi1pk=LEGALHOLDS, gsi1sk=<created>#<id>           | Query gsi1  |
| objects a hold put S3 legal holds on         | pk=LEGALHOLD#<id>, sk begins_with OBJ#             | Query       |
| holds covering an object version             | pk=OBJHOLD#<key>#<version>, sk=HOLD#<id>           | Query       |
| holds covering a recovery point              | pk=HELD#<recovery point id>, sk=HOLD#<id>          | Query       |
| audit chain head                             | pk=AUDIT, sk=HEAD                                  | GetItem     |
| audit record made for an idempotency key     | pk=AUDITKEY#<key>, sk=AUDITKEY                     | GetItem     |
| verify run / its per-batch results           | pk=VERIFY#<run>, sk=RUN / sk begins_with ITEM#     | GetItem / Query |

Membership items (OBJ#, OBJHOLD#, HELD#) are plain idempotent puts and deletes: writing one twice
changes nothing, and the hold's own record (status, conditional) says how far a create or release got.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from coffer.adapters.catalog.batches import write_all
from coffer.adapters.catalog.conditions import condition_held
from coffer.domain.audit import ChainHead
from coffer.domain.errors import AlreadyExists, ConcurrentUpdate
from coffer.domain.legal_holds import LegalHold
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.vaults import Vault
from coffer.ports.vault_records import PageStart

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class VaultCatalog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    # ---- vaults -----------------------------------------------------------------------------------
    def get_vault(self, name: str) -> Vault | None:
        item = self._get(f"VAULT#{name}", "VAULT")
        return None if item is None else Vault.model_validate_json(item["doc"]["S"])

    def put_vault(self, vault: Vault) -> Vault:
        """Create (version 0) or update a vault; raises AlreadyExists / ConcurrentUpdate."""
        saved = vault.model_copy(update={"version": vault.version + 1})
        put: dict[str, Any] = {"TableName": self._table, "Item": {
            "pk": _s(f"VAULT#{vault.name}"), "sk": _s("VAULT"), "gsi1pk": _s("VAULTS"), "gsi1sk": _s(vault.name),
            "version": _n(saved.version), "doc": _s(saved.model_dump_json())}}
        if vault.version == 0:
            # Rule: vault names are unique.
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            # Rule: a vault (its lock above all) changes only from the version the writer read.
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = {":v": _n(vault.version)}
        if not condition_held(lambda: self._db.put_item(**put)):
            if vault.version == 0:
                raise AlreadyExists(f"vault {vault.name} already exists")
            raise ConcurrentUpdate(f"vault {vault.name} changed since version {vault.version}")
        return saved

    def delete_vault(self, vault: Vault) -> None:
        # Rule: delete only the version whose emptiness the caller checked.
        if not condition_held(lambda: self._db.delete_item(
                TableName=self._table, Key={"pk": _s(f"VAULT#{vault.name}"), "sk": _s("VAULT")},
                ConditionExpression="version = :v", ExpressionAttributeValues={":v": _n(vault.version)})):
            raise ConcurrentUpdate(f"vault {vault.name} changed since version {vault.version}")

    def list_vaults(self) -> Iterator[Vault]:
        for item in self._query(IndexName="gsi1", KeyConditionExpression="gsi1pk = :p",
                                ExpressionAttributeValues={":p": _s("VAULTS")}):
            yield Vault.model_validate_json(item["doc"]["S"])

    def any_recovery_point(self, vault_name: str) -> str | None:
        response = self._db.query(TableName=self._table, IndexName="gsi1", KeyConditionExpression="gsi1pk = :p",
                                  ExpressionAttributeValues={":p": _s(f"VAULT#{vault_name}")}, Limit=1)
        items = response.get("Items", [])
        return str(json.loads(items[0]["doc"]["S"])["recovery_point_id"]) if items else None

    def recovery_points_created(self, vault_name: str, start: datetime, end: datetime) -> Iterator[RecoveryPoint]:
        """Recovery points of the vault created in [start, end] (the gsi1 sort key starts with the UTC time)."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        for item in self._query(
            IndexName="gsi1", KeyConditionExpression="gsi1pk = :p AND gsi1sk BETWEEN :a AND :b",
            ExpressionAttributeValues={":p": _s(f"VAULT#{vault_name}"), ":a": _s(f"RP#{start.isoformat()}"),
                                       ":b": _s(f"RP#{end.isoformat()}~")}):
            yield RecoveryPoint.model_validate_json(item["doc"]["S"])

    def recovery_point_page(self, vault_name: str, start: PageStart | None,
                            limit: int) -> tuple[list[RecoveryPoint], PageStart | None]:
        """One page of the vault's recovery points (bounded work per call) and where the next page starts."""
        params: dict[str, Any] = {"TableName": self._table, "IndexName": "gsi1", "Limit": limit,
                                  "KeyConditionExpression": "gsi1pk = :p",
                                  "ExpressionAttributeValues": {":p": _s(f"VAULT#{vault_name}")}}
        if start:
            params["ExclusiveStartKey"] = start
        page = self._db.query(**params)
        points = [RecoveryPoint.model_validate_json(item["doc"]["S"]) for item in page.get("Items", [])]
        return points, page.get("LastEvaluatedKey")

    # ---- legal holds ------------------------------------------------------------------------------
    def put_hold(self, hold: LegalHold) -> LegalHold:
        saved = hold.model_copy(update={"version": hold.version + 1})
        put: dict[str, Any] = {"TableName": self._table, "Item": {
            "pk": _s(f"LEGALHOLD#{hold.legal_hold_id}"), "sk": _s("HOLD"), "gsi1pk": _s("LEGALHOLDS"),
            "gsi1sk": _s(f"{hold.creation_date.isoformat()}#{hold.legal_hold_id}"), "status": _s(saved.status.value),
            "version": _n(saved.version), "doc": _s(saved.model_dump_json())}}
        if hold.version == 0:
            # Rule: a hold id is never reused.
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            # Rule: a hold's status moves only from the version the writer read (create vs release race).
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = {":v": _n(hold.version)}
        if not condition_held(lambda: self._db.put_item(**put)):
            raise ConcurrentUpdate(f"legal hold {hold.legal_hold_id} changed")
        return saved

    def get_hold(self, hold_id: str) -> LegalHold | None:
        item = self._get(f"LEGALHOLD#{hold_id}", "HOLD")
        return None if item is None else LegalHold.model_validate_json(item["doc"]["S"])

    def list_holds(self) -> Iterator[LegalHold]:
        for item in self._query(IndexName="gsi1", KeyConditionExpression="gsi1pk = :p",
                                ExpressionAttributeValues={":p": _s("LEGALHOLDS")}, ScanIndexForward=False):
            yield LegalHold.model_validate_json(item["doc"]["S"])

    def add_hold_members(self, hold_id: str, recovery_point_id: str, objects: Iterable[tuple[str, str]]) -> None:
        """Record that the hold covers the recovery point and these (key, version id) objects."""
        puts = [{"pk": _s(f"HELD#{recovery_point_id}"), "sk": _s(f"HOLD#{hold_id}")}]
        for key, version in objects:
            puts.append({"pk": _s(f"LEGALHOLD#{hold_id}"), "sk": _s(f"OBJ#{key}#{version}"),
                         "key": _s(key), "version_id": _s(version), "rp": _s(recovery_point_id)})
            puts.append({"pk": _s(f"OBJHOLD#{key}#{version}"), "sk": _s(f"HOLD#{hold_id}")})
        self._batch_write([{"PutRequest": {"Item": item}} for item in puts])

    def hold_objects(self, hold_id: str) -> Iterator[tuple[str, str, str]]:
        """(key, version id, recovery point id) of every object version the hold put a legal hold on."""
        for item in self._query(KeyConditionExpression="pk = :p AND begins_with(sk, :s)", ConsistentRead=True,
                                ExpressionAttributeValues={":p": _s(f"LEGALHOLD#{hold_id}"), ":s": _s("OBJ#")}):
            yield item["key"]["S"], item["version_id"]["S"], item["rp"]["S"]

    def drop_object_member(self, hold_id: str, key: str, version: str) -> None:
        self._db.delete_item(TableName=self._table,
                             Key={"pk": _s(f"OBJHOLD#{key}#{version}"), "sk": _s(f"HOLD#{hold_id}")})

    def object_holders(self, key: str, version: str) -> list[str]:
        items = self._db.query(TableName=self._table, KeyConditionExpression="pk = :p", ConsistentRead=True,
                               ExpressionAttributeValues={":p": _s(f"OBJHOLD#{key}#{version}")})["Items"]
        return [i["sk"]["S"].removeprefix("HOLD#") for i in items]

    def drop_recovery_point_member(self, hold_id: str, recovery_point_id: str) -> None:
        self._db.delete_item(TableName=self._table,
                             Key={"pk": _s(f"HELD#{recovery_point_id}"), "sk": _s(f"HOLD#{hold_id}")})

    def holds_on(self, recovery_point_id: str) -> list[str]:
        """Ids of the legal holds covering the recovery point (the check expiry and deletion call)."""
        items = self._db.query(TableName=self._table, KeyConditionExpression="pk = :p", ConsistentRead=True,
                               ExpressionAttributeValues={":p": _s(f"HELD#{recovery_point_id}")})["Items"]
        return [i["sk"]["S"].removeprefix("HOLD#") for i in items]

    # ---- audit chain head -------------------------------------------------------------------------
    def audit_head(self) -> ChainHead | None:
        item = self._get("AUDIT", "HEAD")
        return None if item is None else ChainHead(int(item["seq"]["N"]), item["hash"]["S"])

    def move_audit_head(self, expected: ChainHead, new: ChainHead, idempotency_key: str | None = None) -> bool:
        """Move the head from `expected` to `new`; False if another append moved it first."""
        update: PutTypeDef = {"TableName": self._table, "Item": {
            "pk": _s("AUDIT"), "sk": _s("HEAD"), "seq": _n(new.seq), "hash": _s(new.hash)}}
        if expected.seq == 0:
            # Rule: the chain starts once.
            update["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            # Rule: one record per sequence number - the head moves only from the record the writer chained to.
            update["ConditionExpression"] = "seq = :s AND #h = :h"
            update["ExpressionAttributeNames"] = {"#h": "hash"}
            update["ExpressionAttributeValues"] = {":s": _n(expected.seq), ":h": _s(expected.hash)}
        items: list[TransactWriteItemTypeDef] = [{"Put": update}]
        if idempotency_key:
            # Rule: a retried request (same key) adds no second record.
            items.append({"Put": {"TableName": self._table, "Item": {
                "pk": _s(f"AUDITKEY#{idempotency_key}"), "sk": _s("AUDITKEY"), "seq": _n(new.seq)},
                "ConditionExpression": "attribute_not_exists(pk)"}})
        return condition_held(lambda: self._db.transact_write_items(TransactItems=items))

    def restore_audit_head(self, head: ChainHead) -> bool:
        """Put a head back after the table was lost (only if there is none)."""
        # Rule: never overwrite a live head.
        return condition_held(lambda: self._db.put_item(TableName=self._table, Item={
            "pk": _s("AUDIT"), "sk": _s("HEAD"), "seq": _n(head.seq), "hash": _s(head.hash)},
            ConditionExpression="attribute_not_exists(pk)"))

    def audit_seq_for(self, idempotency_key: str) -> int | None:
        item = self._get(f"AUDITKEY#{idempotency_key}", "AUDITKEY")
        return None if item is None else int(item["seq"]["N"])

    def audit_seq_and_head(self, idempotency_key: str) -> tuple[int | None, ChainHead | None]:
        # one TransactGetItems: both items as of one moment (no UnprocessedKeys to ask again for, unlike a batch)
        response = self._db.transact_get_items(TransactItems=[
            {"Get": {"TableName": self._table, "Key": {"pk": _s(f"AUDITKEY#{idempotency_key}"), "sk": _s("AUDITKEY")}}},
            {"Get": {"TableName": self._table, "Key": {"pk": _s("AUDIT"), "sk": _s("HEAD")}}}])
        key_item, head_item = (answer.get("Item") for answer in response["Responses"])
        return (None if not key_item else int(key_item["seq"]["N"]),
                None if not head_item else ChainHead(int(head_item["seq"]["N"]), head_item["hash"]["S"]))

    # ---- verify runs ------------------------------------------------------------------------------
    def put_verify_result(self, run_id: str, seq: int, doc: dict[str, Any]) -> None:
        """One work item file's result. A retried child overwrites its own record with the same facts."""
        self._db.put_item(TableName=self._table, Item={
            "pk": _s(f"VERIFY#{run_id}"), "sk": _s(f"ITEM#{seq:08d}"), "doc": _s(json.dumps(doc))})

    def verify_results(self, run_id: str) -> Iterator[dict[str, Any]]:
        for item in self._query(KeyConditionExpression="pk = :p AND begins_with(sk, :s)", ConsistentRead=True,
                                ExpressionAttributeValues={":p": _s(f"VERIFY#{run_id}"), ":s": _s("ITEM#")}):
            yield json.loads(item["doc"]["S"])

    def put_verify_run(self, run_id: str, doc: dict[str, Any]) -> None:
        self._db.put_item(TableName=self._table, Item={
            "pk": _s(f"VERIFY#{run_id}"), "sk": _s("RUN"), "doc": _s(json.dumps(doc, default=str))})

    def get_verify_run(self, run_id: str) -> dict[str, Any] | None:
        item = self._get(f"VERIFY#{run_id}", "RUN")
        return None if item is None else dict(json.loads(item["doc"]["S"]))

    # ---- helpers ----------------------------------------------------------------------------------
    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._db.get_item(TableName=self._table, Key={"pk": _s(pk), "sk": _s(sk)}, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _query(self, **params: Any) -> Iterator[dict[str, Any]]:
        for page in self._db.get_paginator("query").paginate(TableName=self._table, **params):
            yield from page["Items"]

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        write_all(self._db, self._table, requests)
