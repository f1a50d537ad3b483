"""S3 buckets: objects are copied server-side into the vault (no object bytes pass through Lambda).

The bucket-level work (listing, batching, manifest parts) is spread over a Distributed Map by the Backup
and Restore workflows; this adapter does the per-object and per-page S3 calls.

An S3 recovery point has no native artefact: its objects are content-addressed blobs in the vault, shared by
the recovery points that hold the same bytes, locked by S3 Object Lock and expired by the vault's lifecycle.
Copying one to another vault, moving it to cold storage and deleting it are therefore vault operations, not
this adapter's (see REFUSALS). A bucket the restore creates is tagged with the recovery point id; restored
objects keep exactly their own tags. The per-object methods (ports/source_buckets.py) raise ObjectRefused when S3
refuses that object for good, so a batch names it failed and goes on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from coffer.adapters.aws import error_code, is_not_found, refusals_named, refuses_objects
from coffer.adapters.checksums import b64_to_hex
from coffer.adapters.resources.common import (
    NO_OPTIONS,
    NoColdStorage,
    NoCopies,
    coffer_tags,
    refuse,
    tag_list,
    user_tags,
)
from coffer.domain.errors import (
    SOURCE_CHANGED,
    IntegrityError,
    InvalidInput,
    NotFound,
    ObjectRefused,
    RestoreMismatch,
    UnsupportedOperation,
)
from coffer.domain.input_rules.restore_metadata import NEVER_VERSIONED, new_bucket_wanted, restore_bucket_problem
from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest, ObjectEntry
from coffer.domain.multipart import MAX_SINGLE_COPY
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.resources import ResourceType, resource_name
from coffer.domain.restored_headers import recorded_headers, restore_args
from coffer.ports.resources import BackupStrategy, Capability, DiscoveredResource, OperationStatus, StartedBackup

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CopySourceTypeDef

#: a restore's blob that the vault does not hold (CopySource answered 404): that object fails, the batch goes on
_BLOB_GONE = {"NoSuchKey", "NoSuchVersion"}
#: how much of an object read_object hashes at a time
_HASH_CHUNK = 1024 * 1024
#: a version that is gone (deleted for good) or is a delete marker, when asked for by id
_VERSION_GONE = {"NoSuchVersion", "405", "MethodNotAllowed", "InvalidArgument"}
_IN_THE_VAULT = ("an S3 recovery point is objects in the vault, not a native artefact: {} is a vault operation "
                 "(vault copies and lifecycle), not the S3 adapter's")
REFUSALS: Mapping[Capability, str] = {
    Capability.COPY_TO_REGION: _IN_THE_VAULT.format("copying it"),
    Capability.COPY_TO_ACCOUNT: _IN_THE_VAULT.format("copying it"),
    Capability.COLD_STORAGE: "vault objects stay in their storage class (as AWS Backup keeps S3 backups warm)",
    Capability.DELETE: _IN_THE_VAULT.format("expiring it"),
}


class S3Adapter(NoCopies, NoColdStorage):
    resource_type = ResourceType.S3
    strategy = BackupStrategy.OBJECTS
    capabilities = frozenset(Capability) - set(REFUSALS)
    refusals = REFUSALS
    backup_options = NO_OPTIONS

    def __init__(self, client: S3Client) -> None:
        self._s3 = client

    # ---- the adapter interface ------------------------------------------------------------------
    def discover(self, account_id: str) -> Iterator[DiscoveredResource]:
        """Every bucket the account owns, with its tags (S3 lists buckets of all regions)."""
        params: dict[str, Any] = {}
        while True:
            page = self._s3.list_buckets(**params)
            for bucket in page.get("Buckets", []):
                yield DiscoveredResource(f"arn:aws:s3:::{bucket['Name']}", self.resource_type,
                                         self._bucket_tags(bucket["Name"]))
            if not page.get("ContinuationToken"):
                return
            params["ContinuationToken"] = page["ContinuationToken"]

    def describe_source(self, resource_arn: str) -> dict[str, Any]:
        bucket = resource_name(resource_arn)
        try:
            location = self._s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
        except ClientError as error:
            if is_not_found(error):
                raise NotFound(f"bucket {bucket} not found") from error
            raise
        return {"bucket": bucket, "region": location}

    def start_backup(self, job: Job, fresh: bool = False) -> StartedBackup:
        self.describe_source(job.resource_arn)  # fail now, clearly, if the bucket is gone
        return StartedBackup(None)

    def backup_status(self, job: Job) -> OperationStatus:
        return OperationStatus(done=True)

    def start_restore(self, job: Job, manifest: Manifest) -> str | None:
        """The restore's bucket: created (a new bucket by default), or an existing one whose versioning is Enabled.

        RestoreJobs.start refused a target that breaks these rules before the job existed; here they are held
        again where the bucket is taken: a bucket this restore creates must hold nothing yet and no other restore's
        tag (a bucket created by someone else in between, or by another restore racing for the same name, is not
        taken over - CreateBucket answers an owner's existing bucket with success in us-east-1)."""
        bucket = job.restore_target["DestinationBucketName"]
        if new_bucket_wanted(job.restore_target):
            self._create_bucket(bucket, job.restore_target.get("Region"))
            self._refuse_unless_fresh(bucket, job.job_id)
            self._s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_list(
                coffer_tags(job.recovery_point_id, restore_job_id=job.job_id))})
        else:
            found = restore_bucket_problem(job.restore_target, self.bucket_versioning(bucket))
            if found:
                raise InvalidInput([found])
        return f"arn:aws:s3:::{bucket}"

    def bucket_versioning(self, bucket: str) -> str | None:
        """GetBucketVersioning's Status ("" when never enabled); None when the bucket does not exist."""
        try:
            return str(self._s3.get_bucket_versioning(Bucket=bucket).get("Status", NEVER_VERSIONED))
        except ClientError as error:
            if is_not_found(error):
                return None
            if error_code(error) in ("AccessDenied", "403"):
                raise InvalidInput([f"Metadata.DestinationBucketName: bucket {bucket} exists but Coffer may not read "
                                    "it (AccessDenied: another account's bucket, or its policy denies Coffer) "
                                    "(restore into a bucket of your own)"]) from error
            raise

    def _refuse_unless_fresh(self, bucket: str, job_id: str) -> None:
        """A bucket this restore created: tagged with this job (its start ran before), or without tags and empty (just
        created, or created by an attempt that stopped before tagging it). Anything else is someone else's: its
        objects and its tags are not the restore's to replace."""
        tags = self._bucket_tags(bucket, every=True)
        if tags.get("coffer:restore-job-id") == job_id:
            return
        listed = self._s3.list_object_versions(Bucket=bucket, MaxKeys=1)
        if tags or listed.get("Versions") or listed.get("DeleteMarkers"):
            raise InvalidInput([f"Metadata.DestinationBucketName: bucket {bucket} existed before this restore created "
                                "it (it holds objects or tags): a restore into a new bucket never writes into a bucket "
                                "it did not create (name a bucket that does not exist)"])

    def restore_status(self, job: Job, manifest: Manifest) -> OperationStatus:
        return OperationStatus(done=True)

    def validate_restore(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        restored = job.progress.objects
        if restored != manifest.objects:
            raise RestoreMismatch(f"restored {restored} objects, the recovery point holds {manifest.objects}")
        return {"objects": restored, "checksums_verified": restored}

    @refusals_named
    def delete_recovery_point(self, recovery_point: RecoveryPoint) -> None:
        refuse(self.resource_type, self.refusals, Capability.DELETE)

    def _bucket_tags(self, bucket: str, every: bool = False) -> dict[str, str]:
        """The bucket's tags: the user's (Coffer's own `coffer:` tags left out), or `every` one."""
        try:
            tag_set = self._s3.get_bucket_tagging(Bucket=bucket).get("TagSet")
            return {t["Key"]: t["Value"] for t in tag_set or []} if every else user_tags(tag_set)
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchTagSet":
                return {}
            raise

    # ---- per page / per object ------------------------------------------------------------------
    def list_page(self, bucket: str, token: str | None, max_keys: int) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"Bucket": bucket, "MaxKeys": max_keys}
        if token:
            params["ContinuationToken"] = token
        page = self._s3.list_objects_v2(**params)
        items = [
            {"key": o["Key"], "size": o["Size"], "etag": o["ETag"].strip('"'),
             "last_modified": o["LastModified"].isoformat(), "storage_class": o.get("StorageClass") or "STANDARD",
             # the listing says for free whether S3 keeps a full-object SHA-256 (then no read is needed to learn it)
             "sha256_kept": "SHA256" in (o.get("ChecksumAlgorithm") or []) and o.get("ChecksumType") != "COMPOSITE"}
            for o in page.get("Contents", [])
        ]
        return items, page.get("NextContinuationToken") if page.get("IsTruncated") else None

    def tag_events_on(self, bucket: str) -> bool:
        """Whether the bucket sends its events (tag changes among them) to EventBridge: one
        GetBucketNotificationConfiguration. A refusal is not taken for "off": it fails the job with its cause (the
        template grants the call; a bucket policy that denies it is a misconfiguration to see, not to guess past)."""
        answer = self._s3.get_bucket_notification_configuration(Bucket=bucket)
        return "EventBridgeConfiguration" in answer

    @refuses_objects
    def describe_object(self, bucket: str, key: str) -> dict[str, Any] | None:
        """Headers, user metadata, tags, version and (if S3 has one) the full-object SHA-256.

        One HeadObject (ChecksumMode: S3's checksum in the same answer); GetObjectTagging only when HeadObject's
        TagCount (x-amz-tagging-count) says the object has tags. None when the object vanished since it was listed
        (deleted objects are not in the recovery point).
        """
        try:
            head: Mapping[str, Any] = self._s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
            return self._described(bucket, key, head)
        except ClientError as error:
            if is_not_found(error):
                return None
            raise

    @refuses_objects
    def read_object(self, bucket: str, key: str, hash_up_to: int) -> dict[str, Any] | None:
        """describe_object from one GetObject: the same headers (GetObject answers every one HeadObject does), and,
        where S3 has no full-object SHA-256 and the object is at most `hash_up_to` bytes, the SHA-256 of the bytes
        read (streamed, 1 MiB at a time: memory does not grow with the object). The caller pins its copy to the
        version (or ETag) read, and S3's SHA-256 of that copy must equal this one (services/object_batches.py)."""
        try:
            got: Mapping[str, Any] = self._s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as error:
            if is_not_found(error):
                return None
            raise
        body = got["Body"]
        try:
            facts = self._described(bucket, key, got)
            if facts["sha256"] is None and facts["size"] <= hash_up_to:
                digest, read = hashlib.sha256(), 0
                for chunk in body.iter_chunks(chunk_size=_HASH_CHUNK):
                    digest.update(chunk)
                    read += len(chunk)
                if read != facts["size"]:
                    raise IntegrityError(f"s3://{bucket}/{key}: read {read} bytes of {facts['size']}")
                facts["sha256"] = digest.hexdigest()
        finally:
            body.close()
        return facts

    def _described(self, bucket: str, key: str, head: Mapping[str, Any]) -> dict[str, Any]:
        """The facts of a HeadObject's or GetObject's answer; GetObjectTagging only when it counts tags."""
        counted = head.get("TagCount") or head.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(
            "x-amz-tagging-count")
        tags = self._s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", []) if counted else []
        facts: dict[str, Any] = recorded_headers(dict(head))
        facts["metadata"] = head.get("Metadata", {})
        facts["tags"] = {t["Key"]: t["Value"] for t in tags}
        facts["version_id"] = head.get("VersionId") if head.get("VersionId") not in (None, "null") else None
        facts["etag"] = head["ETag"].strip('"')
        facts["size"] = head["ContentLength"]
        full_object = head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
        facts["sha256"] = b64_to_hex(head["ChecksumSHA256"]) if head.get("ChecksumSHA256") and full_object else None
        return facts

    def describe_version(self, bucket: str, key: str, version_id: str | None) -> dict[str, Any] | None:
        """One object version's headers, metadata, tags, size and (if S3 has one) SHA-256; None if it is gone."""
        version: dict[str, Any] = {"VersionId": version_id} if version_id else {}
        try:
            head: Mapping[str, Any] = self._s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED", **version)
            tags = self._s3.get_object_tagging(Bucket=bucket, Key=key, **version).get("TagSet", [])
        except ClientError as error:
            if is_not_found(error) or error_code(error) in _VERSION_GONE:
                return None
            raise
        if head.get("DeleteMarker"):
            return None
        facts: dict[str, Any] = recorded_headers(dict(head))
        full_object = head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
        facts.update(
            key=key, metadata=head.get("Metadata", {}), tags={t["Key"]: t["Value"] for t in tags},
            version_id=head.get("VersionId") if head.get("VersionId") not in (None, "null") else None,
            etag=head["ETag"].strip('"'), size=head["ContentLength"],
            last_modified=head["LastModified"].isoformat() if head.get("LastModified") else "",
            sha256=b64_to_hex(head["ChecksumSHA256"]) if head.get("ChecksumSHA256") and full_object else None)
        return facts

    @refuses_objects
    def tags(self, bucket: str, key: str) -> dict[str, str] | None:
        try:
            tag_set = self._s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
        except ClientError as error:
            if is_not_found(error):
                return None
            raise
        return {t["Key"]: t["Value"] for t in tag_set}

    @refuses_objects
    def copy_with_checksum(self, bucket: str, key: str, version_id: str | None, size: int,
                           dest_bucket: str, dest_key: str, etag: str | None = None) -> str:
        """Server-side copy that makes S3 compute the SHA-256 (hex). Used to learn an object's content address.

        The content copied is the one described: its VersionId pins it, else (an unversioned bucket) `etag`
        (CopySourceIfMatch: S3 refuses the copy if the object was replaced in between)."""
        if size > MAX_SINGLE_COPY:
            raise UnsupportedOperation(f"s3://{bucket}/{key}: objects over 5 GiB are not copied with one CopyObject")
        source: CopySourceTypeDef = {"Bucket": bucket, "Key": key}
        pinned: dict[str, Any] = {}
        if version_id:
            source["VersionId"] = version_id
        elif etag:
            pinned["CopySourceIfMatch"] = f'"{etag}"'
        try:
            response = self._s3.copy_object(Bucket=dest_bucket, Key=dest_key, CopySource=source,
                                            ChecksumAlgorithm="SHA256", TaggingDirective="REPLACE", **pinned)
        except ClientError as error:
            if pinned and error_code(error) in ("PreconditionFailed", "412"):
                raise ObjectRefused(SOURCE_CHANGED, f"s3://{bucket}/{key} was replaced since it was described "
                                    "(its ETag changed): backed up by the next backup") from error
            raise
        return b64_to_hex(response["CopyObjectResult"]["ChecksumSHA256"])

    @refuses_objects
    def restore_object(self, vault_bucket: str, blob_key: str, bucket: str, key: str, entry: ObjectEntry,
                       blob_version: str | None = None) -> str | None:
        """Copy a blob (the pinned `blob_version`, else the newest) back under its key with every header S3 keeps,
        its metadata, tags and storage class (domain/restored_headers.py); the VersionId written.

        The SHA-256 S3 computes on the copy (free: it comes with the CopyObject response) must be the manifest's;
        if not, the version just written is deleted - by its VersionId, so only Coffer's own write goes and what it
        overwrote is current again - and IntegrityError names the key. A blob the vault does not hold (or not that
        version) is ObjectRefused: that object fails, the batch goes on."""
        source: CopySourceTypeDef = {"Bucket": vault_bucket, "Key": blob_key}
        if blob_version:
            source["VersionId"] = blob_version
        params: dict[str, Any] = {"Bucket": bucket, "Key": key, "CopySource": source, "ChecksumAlgorithm": "SHA256",
                                  "MetadataDirective": "REPLACE", "TaggingDirective": "REPLACE", **restore_args(entry)}
        try:
            response = self._s3.copy_object(**params)
        except ClientError as error:
            if error_code(error) in _BLOB_GONE:
                raise ObjectRefused(error_code(error), f"the vault holds no blob {blob_key}"
                                    + (f" version {blob_version}" if blob_version else "")) from error
            raise
        written = response.get("VersionId")
        reported = response.get("CopyObjectResult", {}).get("ChecksumSHA256")
        restored = b64_to_hex(reported) if reported else None
        if restored != entry.sha256:
            # (an unversioned bucket is only ever one this restore created: the key holds nothing but this write)
            own: dict[str, Any] = {"VersionId": written} if written else {}
            self._s3.delete_object(Bucket=bucket, Key=key, **own)
            raise IntegrityError(f"s3://{bucket}/{key}: restored SHA-256 {restored} != recorded {entry.sha256} "
                                 "(the version written was deleted)")
        return written

    def _create_bucket(self, bucket: str, region: str | None) -> None:
        params: dict[str, Any] = {"Bucket": bucket}
        if region and region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self._s3.create_bucket(**params)
        except ClientError as error:
            # A retried restore finds the bucket it created a moment ago.
            if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise
