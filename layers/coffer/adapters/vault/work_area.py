"""The work bucket: a job's scratch files (batch lists, staging copies). Nothing here is ever the only copy.

A batch that plans or cleans up one object's copy here (a staging copy, a large object's range files) names that
object failed when S3 refuses it for good (adapters/aws.py `refuses_objects`), as it does for the object itself.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from coffer.adapters.aws import refuses_objects

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3WorkArea:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self._s3 = client
        self.bucket = bucket

    @refuses_objects
    def write_json(self, key: str, document: Any) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(document).encode(),
                            ContentType="application/json", ChecksumAlgorithm="SHA256")

    def read_json(self, key: str) -> Any:
        return json.loads(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    @refuses_objects
    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=key)

    def size_of(self, key: str) -> int:
        return int(self._s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

    def listing(self, prefix: str) -> list[dict[str, Any]]:
        """Every object under `prefix`: [{"key", "size"}] (all pages)."""
        found: list[dict[str, Any]] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend({"key": o["Key"], "size": o["Size"]} for o in page.get("Contents", []))
        return found

    @refuses_objects
    def first_key(self, prefix: str) -> str | None:
        """The first key under `prefix`, or None: one ListObjectsV2 call whatever is there."""
        contents = self._s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1).get("Contents", [])
        return contents[0]["Key"] if contents else None
