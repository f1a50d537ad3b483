"""The twin's multipart uploads answer as S3 does (twin/s3_multipart.py), and Coffer's multipart copier on them.

What S3 answers is taken from its API reference and botocore's service model: part checksums from UploadPartCopy
and ListParts, the parts' checksums required and checked by CompleteMultipartUpload, the composite checksum
`<base64>-<parts>` (COMPOSITE) from Complete and HeadObject, without `-<parts>` from GetObjectAttributes, and the
Object Lock settings of CreateMultipartUpload on the object Complete makes.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from coffer.adapters.vault.multipart import MultipartCopier
from coffer.domain.errors import IntegrityError
from coffer_twin.s3_multipart import s3_multipart_checksums

MIB = 1024 * 1024
BODY = os.urandom(11 * MIB)
PARTS = [BODY[i:i + 5 * MIB] for i in range(0, len(BODY), 5 * MIB)]


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


COMPOSITE = base64.b64encode(hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in PARTS)).digest()).decode()


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws(), s3_multipart_checksums():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="source-bucket")
        client.create_bucket(Bucket="locked-bucket", ObjectLockEnabledForBucket=True)
        client.put_object(Bucket="source-bucket", Key="big", Body=BODY)
        yield client


def copy_parts(s3: Any, upload_id: str) -> list[dict[str, Any]]:
    parts = []
    for number, start in enumerate(range(0, len(BODY), 5 * MIB), 1):
        copied = s3.upload_part_copy(Bucket="locked-bucket", Key="blob", UploadId=upload_id, PartNumber=number,
                                     CopySource={"Bucket": "source-bucket", "Key": "big"},
                                     CopySourceRange=f"bytes={start}-{min(start + 5 * MIB, len(BODY)) - 1}")
        parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"],
                      "ChecksumSHA256": copied["CopyPartResult"]["ChecksumSHA256"]})
    return parts


def test_a_sha256_multipart_copy_answers_as_s3(s3: Any) -> None:
    until = datetime.now(UTC) + timedelta(days=2)
    upload = s3.create_multipart_upload(Bucket="locked-bucket", Key="blob", ChecksumAlgorithm="SHA256",
                                        ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)["UploadId"]
    parts = copy_parts(s3, upload)
    assert [p["ChecksumSHA256"] for p in parts] == [b64sha(p) for p in PARTS]
    listed = s3.list_parts(Bucket="locked-bucket", Key="blob", UploadId=upload)["Parts"]
    assert [p["ChecksumSHA256"] for p in listed] == [b64sha(p) for p in PARTS]

    without = [{k: v for k, v in p.items() if k != "ChecksumSHA256"} for p in parts]
    with pytest.raises(ClientError, match=r"must include the checksum for each part\. It was missing for part 1"):
        s3.complete_multipart_upload(Bucket="locked-bucket", Key="blob", UploadId=upload,
                                     MultipartUpload={"Parts": without})
    wrong = [{**parts[0]}, {**parts[1], "ChecksumSHA256": parts[0]["ChecksumSHA256"]}, parts[2]]
    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(Bucket="locked-bucket", Key="blob", UploadId=upload,
                                     MultipartUpload={"Parts": wrong})
    assert refused.value.response["Error"]["Code"] == "InvalidPart"

    done = s3.complete_multipart_upload(Bucket="locked-bucket", Key="blob", UploadId=upload,
                                        MultipartUpload={"Parts": parts})
    assert (done["ChecksumSHA256"], done["ChecksumType"]) == (f"{COMPOSITE}-3", "COMPOSITE")
    head = s3.head_object(Bucket="locked-bucket", Key="blob", ChecksumMode="ENABLED")
    assert (head["ChecksumSHA256"], head["ChecksumType"]) == (f"{COMPOSITE}-3", "COMPOSITE")
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"] > datetime.now(UTC)
    attributes = s3.get_object_attributes(Bucket="locked-bucket", Key="blob", ObjectAttributes=["Checksum"])
    assert attributes["Checksum"] == {"ChecksumSHA256": COMPOSITE, "ChecksumType": "COMPOSITE"}
    with pytest.raises(ClientError):  # locked from the moment it exists
        s3.delete_object(Bucket="locked-bucket", Key="blob", VersionId=done["VersionId"])


def test_the_copier_copies_in_parts_and_reads_the_composite_back(s3: Any) -> None:
    copier = MultipartCopier(s3)
    stored = copier.copy("source-bucket", "big", None, len(BODY), 5 * MIB, "locked-bucket", "blob")
    assert (base64.b64encode(bytes.fromhex(stored.sha256)).decode(), stored.parts) == (COMPOSITE, 3)
    found = copier.composite_of("locked-bucket", "blob")
    assert found is not None and found[0] is not None and (found[0].sha256, found[0].parts, found[1]) == (
        stored.sha256, 3, len(BODY))
    assert copier.stream_composite("locked-bucket", "blob", 5 * MIB, chunk=3 * MIB)[0].sha256 == stored.sha256
    s3.put_object(Bucket="source-bucket", Key="plain", Body=b"x", ChecksumAlgorithm="SHA256")
    assert copier.composite_of("source-bucket", "plain") == (None, 1)  # a full-object checksum is not composite
    assert copier.composite_of("source-bucket", "absent") is None


def test_a_copy_that_fails_is_aborted_and_a_missing_part_is_never_completed(s3: Any) -> None:
    copier = MultipartCopier(s3)
    with pytest.raises(ClientError):  # the source is gone: its first UploadPartCopy fails
        copier.copy("source-bucket", "absent", None, len(BODY), 5 * MIB, "locked-bucket", "blob")
    assert s3.list_multipart_uploads(Bucket="locked-bucket").get("Uploads", []) == []
    upload = copier.start("source-bucket", "big", None, len(BODY), 5 * MIB, "locked-bucket", "blob")
    copier.copy_parts(upload, 1, 1)
    copier.copy_parts(upload, 3, 3)
    with pytest.raises(IntegrityError, match=r"parts \[2\] of 3 were not copied"):
        copier.complete(upload)
    copier.abort(upload)
    assert s3.list_multipart_uploads(Bucket="locked-bucket").get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket="locked-bucket")
