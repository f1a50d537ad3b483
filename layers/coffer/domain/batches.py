"""Batches of objects bounded by bytes as well as by count: one Distributed Map child's copy work stays bounded
whatever the objects' sizes."""

from __future__ import annotations

from typing import Any


def split_by_bytes(items: list[dict[str, Any]], limit: int) -> list[list[dict[str, Any]]]:
    """Consecutive runs of items whose sizes add up to at most `limit` (an oversized item stands alone)."""
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    total = 0
    for item in items:
        if current and total + item["size"] > limit:
            batches.append(current)
            current, total = [], 0
        current.append(item)
        total += item["size"]
    if current:
        batches.append(current)
    return batches
