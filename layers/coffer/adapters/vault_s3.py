"""The WORM vault: an S3 bucket with Object Lock. Every object Coffer writes carries an explicit retention.

S3 enforces immutability; this code only ever sets or *extends* retention. It never passes
BypassGovernanceRetention and never shortens a retain-until date (moto would let a COMPLIANCE retention be
shortened; S3 would not, and Coffer must not rely on either).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from coffer.adapters.aws import is_not_found
from coffer.adapters.checksums import b64_to_hex
from coffer.domain.errors import IntegrityError, NotFound
from coffer.domain.manifest import sha256_hex


class S3Vault:
    def __init__(self, client: Any, bucket: str, lock_mode: str = "GOVERNANCE") -> None:
        self._s3 = client
        self.bucket = bucket
        self.lock_mode = lock_mode

    def put_locked(self, key: str, body: bytes, retain_until: datetime, content_type: str = "application/json") -> str:
        """Write an object under Object Lock; return its SHA-256 (hex) as S3 computed and we checked it."""
        expected = sha256_hex(body)
        response = self._s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType=content_type,
            ChecksumAlgorithm="SHA256", ObjectLockMode=self.lock_mode, ObjectLockRetainUntilDate=retain_until,
        )
        reported = response.get("ChecksumSHA256")
        if reported and b64_to_hex(reported) != expected:
            raise IntegrityError(f"s3://{self.bucket}/{key}: S3 stored SHA-256 {b64_to_hex(reported)}, sent {expected}")
        return expected

    def put_json_locked(self, key: str, document: Any, retain_until: datetime) -> str:
        return self.put_locked(key, json.dumps(document, sort_keys=True, default=str).encode(), retain_until)

    def get_bytes(self, key: str) -> bytes:
        try:
            body: bytes = self._s3.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")["Body"].read()
        except ClientError as error:
            if is_not_found(error):
                raise NotFound(f"s3://{self.bucket}/{key} not found") from error
            raise
        return body

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def lock_of(self, key: str) -> tuple[bool, datetime | None]:
        """(exists, retain-until date) of an object."""
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if is_not_found(error):
                return False, None
            raise
        until: datetime | None = head.get("ObjectLockRetainUntilDate")
        return True, until

    def extend_retention(self, key: str, until: datetime) -> bool:
        """Make the object's lock last at least until `until`. Never shortens. True if it changed.

        The current date is always read from S3, never from a cache: a stale date could make this call
        ask S3 to shorten a lock (which S3 refuses for COMPLIANCE and, without a bypass, for GOVERNANCE).
        If another writer extends the same blob between our read and our write and S3 refuses ours, the
        lock is re-read: already long enough is success.
        """
        current = self.lock_of(key)[1]
        if current is not None and current >= until:
            return False
        try:
            self._s3.put_object_retention(
                Bucket=self.bucket, Key=key, Retention={"Mode": self.lock_mode, "RetainUntilDate": until})
        except ClientError:
            now_locked = self.lock_of(key)[1]
            if now_locked is not None and now_locked >= until:
                return False
            raise
        return True

    def copy_in(self, source_bucket: str, source_key: str, key: str, retain_until: datetime,
                source_version: str | None = None) -> str:
        """Server-side copy into the vault under Object Lock; S3 computes the SHA-256 (hex returned)."""
        source: dict[str, str] = {"Bucket": source_bucket, "Key": source_key}
        if source_version:
            source["VersionId"] = source_version
        response = self._s3.copy_object(
            Bucket=self.bucket, Key=key, CopySource=source, ChecksumAlgorithm="SHA256",
            MetadataDirective="REPLACE", ContentType="application/octet-stream", TaggingDirective="REPLACE",
            ObjectLockMode=self.lock_mode, ObjectLockRetainUntilDate=retain_until,
        )
        return b64_to_hex(response["CopyObjectResult"]["ChecksumSHA256"])
