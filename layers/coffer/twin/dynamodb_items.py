"""moto's DynamoDB Query at the cost of a Query: its table listing sorted by plain values, not DynamoType objects.

moto 5.2 answers every Query (and Scan) by listing the whole table sorted by key (``Table.all_items``), comparing
DynamoType objects whose every comparison recomputes a cast value: with a catalog of a few thousand items that
was 90 % of a plan-run scenario's time (50 million casts for 1,000 Queries), and it grows with the catalog, so
the twin slowed down as tests ran. The twin sorts by each key's cast value, computed once per item: the same
order (DynamoType compares exactly those values), a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

__all__ = ["fast_table_listing"]


def _sort_key(item: Any) -> tuple[Any, ...]:
    if item.range_key:
        return (item.hash_key.cast_value, item.range_key.cast_value)
    return (item.hash_key.cast_value,)


@contextmanager
def fast_table_listing() -> Iterator[None]:
    from moto.dynamodb.models.table import Table

    def all_items(self: Any) -> list[Any]:
        items: list[Any] = []
        for hash_set in self.items.values():
            if self.range_key_attr:
                items.extend(hash_set.values())
            else:
                items.append(hash_set)
        return sorted(items, key=_sort_key)

    with mock.patch.object(Table, "all_items", all_items):
        yield
