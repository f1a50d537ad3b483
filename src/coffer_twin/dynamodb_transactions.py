"""TransactWriteItems on moto at the cost DynamoDB charges: the items it touches, not the whole table.

moto 5.2.5 snapshots every table a transaction touches with ``copy.deepcopy`` before applying its items
(to put the snapshot back if one fails). The cost of every transaction grows with the table: the catalog
of a simulated week (thousands of jobs, recovery points, plan runs) made each transaction take tens of
milliseconds and the week quadratic. DynamoDB's own rule is simpler - a cancelled transaction changes
nothing - and needs only the items the transaction names: the twin snapshots those (each a deep copy, or
"absent"), lets moto apply the transaction without its table copies, and on a cancellation puts exactly
those items back. The result is what DynamoDB gives: all of the transaction or none of it. (Calls from
other threads do not interleave inside a transaction: the twin's DynamoDB requests are serialised - see
:mod:`.dynamodb_atomic` - and without that, restoring only its own items is still closer to DynamoDB than
moto's table-wide rollback, which also undid other calls' writes.)
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any
from unittest import mock

__all__ = ["transactions_by_item"]

_inside = threading.local()


class _CopyModule(SimpleNamespace):
    """moto.dynamodb.models' `copy`, except that inside a transaction a Table is not copied."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(_inside, "active", False) and isinstance(value, Table):
            return value  # the twin keeps its own snapshot of the touched items
        return copy.deepcopy(value, memo)

    copy = staticmethod(copy.copy)


def _key_of(table: Any, op_type: str, op: dict[str, Any]) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    attrs = op["Item"] if op_type == "Put" else op["Key"]
    hash_value = DynamoType(attrs[table.hash_key_attr])
    range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _restore(table: Any, hash_value: Any, range_value: Any, old: Any) -> None:
    if range_value is not None:
        if old is None:
            table.items.get(hash_value, {}).pop(range_value, None)
        else:
            table.items[hash_value][range_value] = old
    elif old is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = old


@contextmanager
def transactions_by_item() -> Iterator[None]:
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        snapshot: list[tuple[Any, Any, Any, Any]] = []
        for entry in transact_items:
            if len(entry) != 1:
                break  # moto refuses it before changing anything
            op_type, op = next(iter(entry.items()))
            table = backend.tables.get(op.get("TableName"))
            if table is None or op_type not in ("Put", "Delete", "Update", "ConditionCheck"):
                continue
            try:
                hash_value, range_value = _key_of(table, op_type, op)
            except KeyError:
                continue  # a malformed item: moto reports it, and it changed nothing
            snapshot.append((table, hash_value, range_value,
                             copy.deepcopy(table.get_item(hash_value, range_value))))
        _inside.active = True
        try:
            original(backend, transact_items)
        except Exception:
            for table, hash_value, range_value, old in reversed(snapshot):
                _restore(table, hash_value, range_value, old)
            raise
        finally:
            _inside.active = False

    with mock.patch.object(models, "copy", _CopyModule()), \
            mock.patch.object(DynamoDBBackend, "transact_write_items", transact_write_items):
        yield
