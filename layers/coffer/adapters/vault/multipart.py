"""Server-side multipart copies (UploadPartCopy) with S3 computing SHA-256 checksums; no bytes pass through Lambda.

An upload is created with ChecksumAlgorithm SHA256: S3 returns each part's SHA-256 with UploadPartCopy, lists
them with ListParts, wants them all again in CompleteMultipartUpload, and then gives the object a COMPOSITE
checksum `<base64>-<parts>` (domain/multipart.py). Into the vault, an upload carries the vault's seal (Object
Lock mode and retain-until date, SSE-KMS key) from CreateMultipartUpload on: the object is locked the moment
it exists. An upload that cannot be completed is aborted (the buckets' lifecycle rules abort any left over).
Copies are of one object each: S3 refusing it for good raises ObjectRefused (adapters/aws.py `refuses_objects`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, FlexibleChecksumError

from coffer.adapters.aws import error_code, is_not_found, refuses_objects
from coffer.adapters.checksums import b64_to_hex
from coffer.domain.errors import IntegrityError, NotFound, UploadGone
from coffer.domain.multipart import composite_of_stream, part_ranges, split_composite
from coffer.ports.multipart import Composite, Upload

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, CopySourceTypeDef, PartTypeDef


def _composite(value: str) -> tuple[str, int]:
    checksum, parts = split_composite(value)
    return b64_to_hex(checksum), parts


class MultipartCopier:
    def __init__(self, client: S3Client) -> None:
        self._s3 = client

    @refuses_objects
    def start(self, source_bucket: str, source_key: str, source_version: str | None, size: int, part_size: int,
              dest_bucket: str, dest_key: str, **create: Any) -> Upload:
        """CreateMultipartUpload with SHA-256 checksums; `create`: its other parameters (Object Lock, SSE, headers,
        metadata, tagging)."""
        response = self._s3.create_multipart_upload(Bucket=dest_bucket, Key=dest_key, ChecksumAlgorithm="SHA256",
                                                    **create)
        return Upload(source_bucket, source_key, source_version, size, part_size, dest_bucket, dest_key,
                      response["UploadId"])

    @refuses_objects
    def copy_parts(self, upload: Upload, first: int, last: int) -> None:
        """UploadPartCopy of parts first..last (a retried range copies its parts again: same bytes, same part)."""
        source: CopySourceTypeDef = {"Bucket": upload.source_bucket, "Key": upload.source_key}
        if upload.source_version:
            source["VersionId"] = upload.source_version
        for part in part_ranges(upload.size, upload.part_size, first, last):
            response = self._s3.upload_part_copy(Bucket=upload.dest_bucket, Key=upload.dest_key,
                                                 UploadId=upload.upload_id, PartNumber=part.number, CopySource=source,
                                                 CopySourceRange=part.copy_source_range)
            if not response["CopyPartResult"].get("ChecksumSHA256"):
                raise IntegrityError(f"s3://{upload.dest_bucket}/{upload.dest_key}: S3 returned no SHA-256 for part "
                                     f"{part.number}")

    @refuses_objects
    def complete(self, upload: Upload) -> Composite:
        """CompleteMultipartUpload with every part's ETag and SHA-256 as S3 listed them; S3's composite checksum.
        IntegrityError when a part is missing (a range that failed for good); UploadGone when the upload is no more
        (an earlier attempt completed or aborted it)."""
        try:
            return self._complete(upload)
        except ClientError as error:
            if error_code(error) != "NoSuchUpload":
                raise
            raise UploadGone(f"s3://{upload.dest_bucket}/{upload.dest_key}: upload {upload.upload_id} is gone") \
                from error

    def _complete(self, upload: Upload) -> Composite:
        listed = list(self._listed_parts(upload))
        numbers = [p["PartNumber"] for p in listed]
        if numbers != list(range(1, upload.parts + 1)):
            missing = sorted(set(range(1, upload.parts + 1)) - set(numbers))
            raise IntegrityError(f"s3://{upload.dest_bucket}/{upload.dest_key}: parts {missing[:10]} of {upload.parts} "
                                 "were not copied")
        parts: list[CompletedPartTypeDef] = [
            {"PartNumber": p["PartNumber"], "ETag": p["ETag"], "ChecksumSHA256": p["ChecksumSHA256"]} for p in listed]
        response = self._s3.complete_multipart_upload(Bucket=upload.dest_bucket, Key=upload.dest_key,
                                                      UploadId=upload.upload_id, MultipartUpload={"Parts": parts})
        if response.get("ChecksumType", "COMPOSITE") != "COMPOSITE" or not response.get("ChecksumSHA256"):
            raise IntegrityError(f"s3://{upload.dest_bucket}/{upload.dest_key}: S3 returned no composite SHA-256")
        sha, count = _composite(response["ChecksumSHA256"])
        if count != upload.parts:
            raise IntegrityError(f"s3://{upload.dest_bucket}/{upload.dest_key}: {count} parts, expected {upload.parts}")
        return Composite(sha, count, response.get("VersionId"))

    def discard(self, bucket: str, key: str, version_id: str | None) -> None:
        """DeleteObject of the version a restore wrote (VersionId: only that one)."""
        pinned: dict[str, Any] = {"VersionId": version_id} if version_id else {}
        self._s3.delete_object(Bucket=bucket, Key=key, **pinned)

    def _listed_parts(self, upload: Upload) -> Iterator[PartTypeDef]:
        """ListParts, paginated (at most 10 pages: S3 allows 10,000 parts)."""
        params: dict[str, Any] = {"Bucket": upload.dest_bucket, "Key": upload.dest_key, "UploadId": upload.upload_id}
        while True:
            page = self._s3.list_parts(**params)
            yield from page.get("Parts", [])
            if not page.get("IsTruncated"):
                return
            params["PartNumberMarker"] = page["NextPartNumberMarker"]

    @refuses_objects
    def abort(self, upload: Upload) -> None:
        try:
            self._s3.abort_multipart_upload(Bucket=upload.dest_bucket, Key=upload.dest_key, UploadId=upload.upload_id)
        except ClientError as error:
            if not is_not_found(error) and error.response["Error"]["Code"] != "NoSuchUpload":
                raise

    @refuses_objects
    def copy(self, source_bucket: str, source_key: str, source_version: str | None, size: int, part_size: int,
             dest_bucket: str, dest_key: str, **create: Any) -> Composite:
        """The whole copy in this invocation (callers bound it: at most parts_per_invocation parts); aborted on
        any failure."""
        upload = self.start(source_bucket, source_key, source_version, size, part_size, dest_bucket, dest_key,
                            **create)
        try:
            self.copy_parts(upload, 1, upload.parts)
            return self.complete(upload)
        except BaseException:
            self.abort(upload)
            raise

    def composite_of(self, bucket: str, key: str) -> tuple[Composite | None, int] | None:
        """(S3's composite checksum, or None for an object without one; size) without reading bytes; None if
        there is no such object."""
        try:
            head = self._s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as error:
            if is_not_found(error):
                return None
            raise
        value = head.get("ChecksumSHA256")
        if head.get("ChecksumType") != "COMPOSITE" or not value:
            return None, int(head["ContentLength"])
        sha, parts = _composite(value)
        return Composite(sha, parts, head.get("VersionId")), int(head["ContentLength"])

    def stream_composite(self, bucket: str, key: str, part_size: int,
                         chunk: int = 8 * 1024 * 1024) -> tuple[Composite, int]:
        """Re-read an object and hash it as S3 would for parts of `part_size` (streamed): (composite, size)."""
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as error:
            if is_not_found(error):
                raise NotFound(f"s3://{bucket}/{key} not found") from error
            raise
        try:
            sha, parts, size = composite_of_stream(iter(lambda: body.read(chunk), b""), part_size)
        except FlexibleChecksumError as error:
            raise IntegrityError(f"s3://{bucket}/{key}: bytes do not match S3's stored checksum") from error
        return Composite(sha, parts), size
