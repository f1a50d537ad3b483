"""moto's DynamoDB Query at the cost of a Query: its table listing sorted by plain values, not DynamoType objects.

moto 5.2 answers every Query (and Scan) by listing the whole table sorted by key (``Table.all_items``), comparing
DynamoType objects whose every comparison recomputes a cast value: with a catalog of a few thousand items that
was 90 % of a plan-run scenario's time (50 million casts for 1,000 Queries), and it grows with the catalog, so
the twin slowed down as tests ran. The twin sorts by each key's cast value, computed once per item: the same
order (DynamoType compares exactly those values), a fraction of the cost. And a Query of the table itself (not
of an index) lists only its partition, as DynamoDB reads only that partition: moto listed the whole table for
every Query, which made a plan run over 10,000 resources quadratic (each backup that ends queries its resource's
turn queue, TurnQueue.wake_next, while the catalog grows by a few items per backup).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

__all__ = ["fast_table_listing"]

#: the partition a Query of the table reads, while moto answers it (per thread)
_querying = threading.local()


def _sort_key(item: Any) -> tuple[Any, ...]:
    if item.range_key:
        return (item.hash_key.cast_value, item.range_key.cast_value)
    return (item.hash_key.cast_value,)


@contextmanager
def fast_table_listing() -> Iterator[None]:
    from moto.dynamodb.models.table import Table

    original_query = Table.query

    def all_items(self: Any) -> list[Any]:
        partition = getattr(_querying, "hash_key", None)
        if partition is not None:
            found = self.items.get(partition)  # not self.items[...]: a defaultdict would add the partition
            chosen = [] if found is None else [found] if not self.range_key_attr else list(found.values())
            return sorted(chosen, key=_sort_key)
        items: list[Any] = []
        for hash_set in self.items.values():
            if self.range_key_attr:
                items.extend(hash_set.values())
            else:
                items.append(hash_set)
        return sorted(items, key=_sort_key)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is not None or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        _querying.hash_key = hash_key
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _querying.hash_key = None

    with ExitStack() as patches:
        patches.enter_context(mock.patch.object(Table, "all_items", all_items))
        patches.enter_context(mock.patch.object(Table, "query", query))
        yield
