"""The catalog's batch calls (adapters/catalog/batches.py) when DynamoDB throttles part of a batch: what it left
unprocessed is asked again after a growing pause, never at once, and nothing is lost or written twice."""

from __future__ import annotations

import json
from typing import Any

from coffer.adapters.catalog.batches import GET_BATCH, WRITE_BATCH, get_docs, put_docs

TABLE = "catalog"


class ThrottlingTable:
    """A BatchGetItem/BatchWriteItem that leaves the last item of each of its first `throttled` answers unprocessed."""

    def __init__(self, throttled: int) -> None:
        self.items: dict[tuple[str, str], str] = {}
        self.throttled = throttled
        self.calls: list[int] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        keys = RequestItems[TABLE]["Keys"]
        self.calls.append(len(keys))
        held = keys[-1:] if self.throttled > 0 else []
        self.throttled -= 1
        served = [k for k in keys if k not in held and (k["pk"]["S"], k["sk"]["S"]) in self.items]
        return {"Responses": {TABLE: [{**k, "doc": {"S": self.items[(k["pk"]["S"], k["sk"]["S"])]}} for k in served]},
                "UnprocessedKeys": {TABLE: {"Keys": held, "ConsistentRead": True}} if held else {}}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        puts = RequestItems[TABLE]
        self.calls.append(len(puts))
        held = puts[-1:] if self.throttled > 0 else []
        self.throttled -= 1
        for put in puts:
            if put not in held:
                item = put["PutRequest"]["Item"]
                self.items[(item["pk"]["S"], item["sk"]["S"])] = item["doc"]["S"]
        return {"UnprocessedItems": {TABLE: held} if held else {}}


def test_a_throttled_write_is_asked_again_after_a_growing_pause_and_every_document_lands() -> None:
    table, pauses = ThrottlingTable(throttled=3), list[float]()
    docs = {f"key-{n:03d}": {"n": n} for n in range(WRITE_BATCH + 5)}
    put_docs(table, TABLE, "OBJIDX#v#b", docs, sleep=pauses.append)  # type: ignore[arg-type]
    assert {sk: json.loads(doc) for (_, sk), doc in table.items.items()} == docs
    assert table.calls == [WRITE_BATCH, 1, 1, 1, 5]  # the held item alone, three times, then the rest
    assert len(pauses) == 3 and all(0 <= p <= 2.0 for p in pauses)  # a pause before each ask again, none first


def test_a_throttled_read_is_asked_again_after_a_pause_and_finds_every_document() -> None:
    table, pauses = ThrottlingTable(throttled=2), list[float]()
    table.items = {("BLOB#v", f"sha-{n}"): json.dumps({"n": n}) for n in range(GET_BATCH + 1)}
    asked = [f"sha-{n}" for n in range(GET_BATCH + 1)] + ["sha-0", "missing"]
    found = get_docs(table, TABLE, "BLOB#v", asked, sleep=pauses.append)  # type: ignore[arg-type]
    # every document found; a repeated key asked once, a missing one absent
    assert found == {f"sha-{n}": {"n": n} for n in range(GET_BATCH + 1)}
    assert len(pauses) == 2
