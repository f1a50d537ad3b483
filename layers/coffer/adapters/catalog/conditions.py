"""DynamoDB refusing a conditional write, recognised in one place for every catalog adapter.

Every state change in the catalog is a conditional write (a ConditionExpression, or a transaction of them) whose
condition states a rule; when the condition does not hold, DynamoDB refuses the write (ConditionalCheckFailed, or a
cancelled transaction) and the adapter says what that means in Coffer's terms (ConcurrentUpdate, a duplicate ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from coffer.adapters.aws import error_code

#: a conditional write whose condition did not hold; a transaction cancelled because one of its conditions did not
#: hold (or another transaction wrote one of its items meanwhile: either way, nothing of it was written)
_REFUSED = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})


def condition_held(write: Callable[[], object]) -> bool:
    """Make the write; False (nothing written) when DynamoDB refused it because a condition did not hold."""
    try:
        write()
    except ClientError as error:
        if error_code(error) not in _REFUSED:
            raise
        return False
    return True


def refusals(write: Callable[[], object]) -> list[dict[str, Any] | None] | None:
    """Make a transaction; None when it was written, else, per item in order, why it was refused: the item as it
    was when its condition failed (a dict; empty when the item did not exist or no ALL_OLD was asked) or None
    for an item whose condition held. Read from DynamoDB's CancellationReasons: what refused the transaction
    at the moment it was refused, not what a later read finds."""
    try:
        write()
    except ClientError as error:
        if error_code(error) not in _REFUSED:
            raise
        reasons = error.response.get("CancellationReasons") or []
        return [dict(reason.get("Item") or {}) if reason.get("Code") == "ConditionalCheckFailed" else None
                for reason in reasons]
    return None
