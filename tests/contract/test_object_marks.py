"""The catalog's records that spare an S3 backup calls (issue 16): tag marks (ports/tag_marks.py) and blob records
(ports/blob_records.py), on the DynamoDB adapters on moto. Only the backup path uses them (no fake stands in)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from coffer.adapters import aws
from coffer.adapters.catalog.blob_records import DynamoBlobRecords
from coffer.adapters.catalog.tag_marks import DynamoTagMarks
from coffer_twin.environment import fake_aws_environment

REGION, TABLE = "eu-west-1", "catalog"
NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def dynamodb(create_catalog_table: Any) -> Iterator[Any]:
    with fake_aws_environment(REGION), mock_aws():
        client = aws.client("dynamodb", REGION, boto3.Session())
        create_catalog_table(client, TABLE)
        yield client


def test_tag_marks_are_read_by_key_range_of_their_bucket_only_the_latest_note_kept_and_expire(dynamodb: Any) -> None:
    marks = DynamoTagMarks(dynamodb, TABLE, timedelta(days=31))
    for key in ("a/1", "a/2", "b/1", "c/9"):
        marks.note("bucket-one", key, NOW)
    marks.note("bucket-one", "a/2", NOW + timedelta(hours=1))  # a second event of the same key: the later note
    marks.note("bucket-two", "a/1", NOW)
    assert marks.noted_between("bucket-one", "a/1", "b/1") == {
        "a/1": NOW, "a/2": NOW + timedelta(hours=1), "b/1": NOW}
    assert marks.noted_between("bucket-two", "a/0", "z") == {"a/1": NOW}
    assert marks.noted_between("bucket-three", "a", "z") == {}
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "TAGMARK#bucket-one"}, "sk": {"S": "c/9"}})["Item"]
    assert int(item["ttl"]["N"]) == int((NOW + timedelta(days=31)).timestamp())  # DynamoDB's TTL removes it


def test_blob_records_round_trip_in_batches_per_vault(dynamodb: Any) -> None:
    blobs = DynamoBlobRecords(dynamodb, TABLE)
    records = {f"{n:064x}": {"version_id": f"v{n}", "retain_until": NOW.isoformat(), "lock_mode": "GOVERNANCE",
                             "warm_until": "9999-12-31"} for n in range(130)}  # over one BatchGetItem, 6 writes
    blobs.put_blobs("Default", records)
    assert blobs.get_blobs("Default", [*records, "f" * 64]) == records  # unknown content: no record
    assert blobs.get_blobs("Other", list(records)) == {}
    blobs.put_blobs("Default", {f"{1:064x}": {**records[f"{1:064x}"], "version_id": "v1-resealed"}})
    assert blobs.get_blobs("Default", [f"{1:064x}"])[f"{1:064x}"]["version_id"] == "v1-resealed"
