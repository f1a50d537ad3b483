"""The work bucket: a job's scratch files (batch lists, staging copies). Nothing here is ever the only copy."""

from __future__ import annotations

import json
from typing import Any


class WorkArea:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self.bucket = bucket

    def write_json(self, key: str, document: Any) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(document).encode(),
                            ContentType="application/json", ChecksumAlgorithm="SHA256")

    def read_json(self, key: str) -> Any:
        return json.loads(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

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

    def first_key(self, prefix: str) -> str | None:
        """The first key under `prefix`, or None: one ListObjectsV2 call whatever is there."""
        contents = self._s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1).get("Contents", [])
        return contents[0]["Key"] if contents else None
