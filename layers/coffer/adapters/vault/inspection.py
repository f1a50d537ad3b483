"""Verify's read-only view of the vault bucket and its keys (ports/vault_inspection.py, ports/key_inspection.py).

One HeadObject (ChecksumMode ENABLED) answers, for a key's current version, its version id, S3's SHA-256, its Object
Lock retention and its legal hold: the checks of an unchanged object cost that one call. ListObjectVersions and a
HeadObject of the pinned version are spent only where the current version is not the pinned one. S3 tells the lock and
hold headers only to a caller with s3:GetObjectRetention and s3:GetObjectLegalHold (the VerifyBatch role has both).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from coffer.adapters.aws import error_code, is_not_found
from coffer.adapters.checksums import b64_to_hex
from coffer.adapters.vault.admin import bucket_policy
from coffer.domain.object_lock import LockMode, VersionLock
from coffer.ports.key_inspection import KEY_GONE
from coffer.ports.vault_inspection import BucketRules, VersionState

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client

_GONE = {"NoSuchVersion", "InvalidArgument"}  # InvalidArgument: a version id S3 cannot parse (never one of its own)


class S3VaultInspection:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self._s3 = client
        self.bucket = bucket

    def head(self, key: str, version_id: str | None = None) -> VersionState | None:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ChecksumMode": "ENABLED"}
        if version_id:
            params["VersionId"] = version_id
        try:
            head = self._s3.head_object(**params)
        except ClientError as error:
            if not (is_not_found(error) or error_code(error) in _GONE or error_code(error) == "405"):
                raise
            headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            if headers.get("x-amz-delete-marker") == "true":
                return VersionState(key, headers.get("x-amz-version-id"), delete_marker=True)
            return None
        checksum = head.get("ChecksumSHA256")
        full = checksum and "-" not in checksum and head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
        mode = head.get("ObjectLockMode")
        return VersionState(key, head.get("VersionId"), sha256=b64_to_hex(checksum) if full and checksum else None,
                            checksum=checksum, size=int(head.get("ContentLength", 0)),
                            lock=VersionLock(LockMode(mode) if mode else None, head.get("ObjectLockRetainUntilDate"),
                                             head.get("ObjectLockLegalHoldStatus") == "ON"),
                            last_modified=head.get("LastModified"))

    def rules(self) -> BucketRules:
        versioning = self._s3.get_bucket_versioning(Bucket=self.bucket).get("Status")
        try:
            config = self._s3.get_object_lock_configuration(Bucket=self.bucket).get("ObjectLockConfiguration", {})
        except ClientError as error:
            if error_code(error) != "ObjectLockConfigurationNotFoundError":
                raise
            config = {}
        default = config.get("Rule", {}).get("DefaultRetention", {})
        # S3 takes Days or Years, never 0; moto answers the one not set as 0
        return BucketRules(versioning=versioning, object_lock=config.get("ObjectLockEnabled") == "Enabled",
                           default_mode=default.get("Mode"), default_days=default.get("Days") or None,
                           default_years=default.get("Years") or None)

    def policy(self) -> dict[str, Any] | None:
        return bucket_policy(self._s3, self.bucket)


class KmsKeyInspection:
    def __init__(self, client: KMSClient) -> None:
        self._kms = client

    def state(self, key_arn: str) -> str:
        try:
            return str(self._kms.describe_key(KeyId=key_arn)["KeyMetadata"].get("KeyState", "Unknown"))
        except ClientError as error:
            if error_code(error) in {"NotFoundException", "NotFound"}:
                return KEY_GONE
            raise

    def policy(self, key_arn: str) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self._kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"]))
        except ClientError as error:
            if error_code(error) in {"NotFoundException", "NotFound"}:
                return None
            raise
