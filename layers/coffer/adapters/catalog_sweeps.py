"""What each lifecycle sweep run did, page by page (issue 7), in the catalog table.

| record                      | key                                              | call  |
|-----------------------------|--------------------------------------------------|-------|
| one swept page of a run     | pk=SWEEP#<run id>, sk=PAGE#<vault>#<seq:08d>     | Put   |
| a run's pages               | pk=SWEEP#<run id>                                | Query |

`doc` is the page's SweepReport as JSON: what was moved to cold, expired and skipped, each with its reason.
A retried page overwrites its own record with the same facts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class SweepRecords:
    def __init__(self, client: Any, table: str) -> None:
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
