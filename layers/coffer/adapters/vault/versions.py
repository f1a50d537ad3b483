"""Object versions of the vault, one at a time: what the lifecycle sweeper's deletions need.

Every deletion here names a version id and never passes BypassGovernanceRetention: S3 Object Lock refuses
a version under a retention or a legal hold whatever the caller's permissions (DESIGN.md invariant 2). The
sweep functions' role may call s3:DeleteObjectVersion on the vault's recovery points and blobs; only the
operator role may bypass governance (template.yaml VaultBucketPolicy). AWS refusing anything else for good is
raised as AwsRefusal (the sweeper skips that recovery point and goes on; adapters/aws.py `refusals_named`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from coffer.adapters.aws import error_code, is_not_found, refusals_named
from coffer.domain.object_lock import LockMode
from coffer.ports.vault_versions import VersionFacts, VersionMarker

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: S3's answers to a DeleteObject of a version that a retention or legal hold protects
_REFUSED = {"AccessDenied", "InvalidRequest", "ObjectLocked"}


class VaultVersions:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self._s3 = client
        self.bucket = bucket

    @refusals_named
    def page(self, prefix: str, marker: VersionMarker | None,
             max_keys: int = 1000) -> tuple[list[tuple[str, str, int]], VersionMarker | None]:
        """One ListObjectVersions page under `prefix`: ([(key, version id, size)], the next marker or None).
        Delete markers are left out (the vault policy lets no sweep role make one)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": max_keys}
        if marker:
            params["KeyMarker"] = marker["key"]
            params["VersionIdMarker"] = marker["version"]
        page = self._s3.list_object_versions(**params)
        versions = [(v["Key"], v["VersionId"], int(v.get("Size", 0))) for v in page.get("Versions", [])]
        if not page.get("IsTruncated"):
            return versions, None
        return versions, {"key": page["NextKeyMarker"], "version": page.get("NextVersionIdMarker", "")}

    @refusals_named
    def facts(self, key: str, version_id: str, size: int = 0) -> VersionFacts | None:
        """The version's retain-until and legal hold (HeadObject; no bytes), or None if it is gone."""
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=key, VersionId=version_id)
        except ClientError as error:
            if is_not_found(error) or error_code(error) == "NoSuchVersion":
                return None
            raise
        mode = head.get("ObjectLockMode")
        return VersionFacts(key, version_id, head.get("ObjectLockRetainUntilDate"),
                            head.get("ObjectLockLegalHoldStatus") == "ON", int(head.get("ContentLength", size)),
                            LockMode(mode) if mode else None)

    @refusals_named
    def delete(self, key: str, version_id: str) -> bool:
        """Delete one version, no bypass. False when S3 refuses it (still locked or held: Object Lock decides)."""
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)
        except ClientError as error:
            if error_code(error) in _REFUSED:
                return False
            raise
        return True
