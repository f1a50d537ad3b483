"""Sample resources for the demo and for the sample events: a bucket and a table worth backing up."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

SAMPLE_BUCKET = "coffer-sample-bucket"
SAMPLE_TABLE = "coffer-sample-orders"
BIG_OBJECT_BYTES = 8 * 1024 * 1024 + 123  # over 8 MiB: bigger than one default multipart chunk


@dataclass(frozen=True)
class SampleObject:
    key: str
    body: bytes
    content_type: str
    metadata: dict[str, str]
    tags: dict[str, str]


def _pattern(size: int, seed: str) -> bytes:
    """Deterministic, incompressible-looking bytes (a hash chain), so sizes and checksums are meaningful."""
    out = bytearray()
    block = seed.encode()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out.extend(block)
    return bytes(out[:size])


def sample_objects() -> list[SampleObject]:
    objects = [
        SampleObject("README.txt", b"Sample data protected by Coffer.\n", "text/plain", {"owner": "platform"}, {}),
        SampleObject("reports/2026/11/summary.json", b'{"orders": 42, "refunds": 1}\n', "application/json",
                     {"generated-by": "reporting"}, {"classification": "internal", "team": "finance"}),
        SampleObject("images/logo.bin", _pattern(70_000, "logo"), "application/octet-stream", {}, {"public": "no"}),
        SampleObject("deep/nested/path/to/data.csv", b"id,amount\n1,10\n2,20\n", "text/csv", {}, {}),
        SampleObject("archive/big.bin", _pattern(BIG_OBJECT_BYTES, "big"), "application/octet-stream",
                     {"purpose": "over-8-MiB"}, {"size": "large"}),
    ]
    objects += [SampleObject(f"logs/day-{i:02d}.log", f"log line {i}\n".encode() * (i + 1), "text/plain", {}, {})
                for i in range(10)]
    return objects


def create_sample_bucket(s3: Any, bucket: str = SAMPLE_BUCKET) -> list[SampleObject]:
    s3.create_bucket(Bucket=bucket)
    objects = sample_objects()
    for obj in objects:
        s3.put_object(Bucket=bucket, Key=obj.key, Body=obj.body, ContentType=obj.content_type,
                      Metadata=obj.metadata, Tagging="&".join(f"{k}={v}" for k, v in obj.tags.items()))
    return objects


def sample_items(count: int = 25) -> list[dict[str, Any]]:
    return [{"order_id": {"S": f"order-{i:04d}"}, "customer": {"S": f"customer-{i % 7}"},
             "amount": {"N": str(10 * i + 1)}} for i in range(count)]


def create_sample_table(dynamodb: Any, table: str = SAMPLE_TABLE) -> list[dict[str, Any]]:
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}])
    items = sample_items()
    for item in items:
        dynamodb.put_item(TableName=table, Item=item)
    return items


def bucket_snapshot(s3: Any, bucket: str, prefix: str = "") -> dict[str, dict[str, Any]]:
    """Everything a byte-identical restore must keep, per key (relative to prefix): bytes, headers, tags."""
    snapshot: dict[str, dict[str, Any]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for listed in page.get("Contents", []):
            key = listed["Key"]
            got = s3.get_object(Bucket=bucket, Key=key)
            tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
            snapshot[key[len(prefix):]] = {
                "sha256": hashlib.sha256(got["Body"].read()).hexdigest(),
                "size": got["ContentLength"],
                "content_type": got.get("ContentType"),
                "metadata": got.get("Metadata", {}),
                "tags": {t["Key"]: t["Value"] for t in tags},
            }
    return snapshot


def table_items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        items.extend(page["Items"])
    return sorted(items, key=lambda item: str(item["order_id"]))
