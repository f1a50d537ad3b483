"""The catalog's batch calls (adapters/catalog/batches.py) when DynamoDB throttles part of a batch: what it left
unprocessed is asked again after a growing pause, never at once, and nothing is lost or written twice."""

from __future__ import annotations

import json
from typing import Any

from coffer.adapters.catalog.batches import GET_BATCH, WRITE_BATCH, get_docs, put_docs, range_docs

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


class PagedTable(ThrottlingTable):
    """ThrottlingTable with a Query that answers `page` items at a time, in sort-key order, as DynamoDB pages."""

    def __init__(self, page: int) -> None:
        super().__init__(throttled=0)
        self.page = page
        self.queried = 0

    def get_paginator(self, name: str) -> Any:
        assert name == "query"
        table = self

        class Pages:
            def paginate(self, **params: Any) -> Any:
                values = params["ExpressionAttributeValues"]
                pk, low, high = values[":p"]["S"], values[":lo"]["S"], values[":hi"]["S"]
                assert params["ConsistentRead"] is True
                rows = sorted((sk, doc) for (p, sk), doc in table.items.items() if p == pk and low <= sk <= high)
                for start in range(0, len(rows), table.page):
                    table.queried += 1
                    yield {"Items": [{"pk": {"S": pk}, "sk": {"S": sk}, "doc": {"S": doc}}
                                     for sk, doc in rows[start:start + table.page]]}
        return Pages()


def test_a_range_read_of_neighbours_is_one_query_and_no_batch_read() -> None:
    table = PagedTable(page=1000)
    table.items = {("OBJIDX#v#b", f"key-{n:04d}"): json.dumps({"n": n}) for n in range(0, 2000, 2)}
    asked = [f"key-{n:04d}" for n in range(100, 300)]  # a listing page: the odd ones never backed up
    found, others = range_docs(table, TABLE, "OBJIDX#v#b", asked)  # type: ignore[arg-type]
    assert found == {k: {"n": int(k[4:])} for k in asked if int(k[4:]) % 2 == 0}
    assert others == [] and table.queried == 1 and table.calls == []


def test_a_range_holding_more_others_than_wanted_stops_and_reads_the_rest_key_by_key() -> None:
    table = PagedTable(page=10)
    table.items = {("OBJIDX#v#b", f"key-{n:04d}"): json.dumps({"n": n}) for n in range(1000)}
    asked = ["key-0001", "key-0005", "key-0500", "key-0998"]
    found, others = range_docs(table, TABLE, "OBJIDX#v#b", asked)  # type: ignore[arg-type]
    assert found == {k: {"n": int(k[4:])} for k in asked}
    assert table.queried == 1  # stopped after the first page (8 others > 4 wanted), not 100 pages
    assert table.calls == [2]  # the two keys it did not reach, in one BatchGetItem
    assert others == [f"key-{n:04d}" for n in range(1, 11) if n not in (1, 5)]
