"""Multipart uploads with additional checksums and Object Lock on the twin, as S3 answers them.

moto 5.2.5 computes the composite checksum of a multipart upload created with ``ChecksumAlgorithm`` but
answers less than S3 (checked against the S3 API reference and botocore's service model):

- ``UploadPartCopy`` returns no part checksum: S3 returns ``CopyPartResult.ChecksumSHA256`` (base64 SHA-256
  of the part) when the upload was created with SHA256. The twin computes it and keeps it on the part.
- ``CompleteMultipartUpload`` accepts a request without the parts' checksums and returns no checksum: S3
  refuses the first (``InvalidRequest``: "The upload was created using a sha256 checksum. The complete request
  must include the checksum for each part ..."), answers ``InvalidPart`` for a part checksum that does not
  match, and returns ``ChecksumSHA256`` ``<base64>-<parts>`` with ``ChecksumType`` ``COMPOSITE``.
- ``ListParts`` returns no part checksums: S3 lists each part's ``ChecksumSHA256`` (of such an upload).
- ``HeadObject`` with ``ChecksumMode=ENABLED`` returns a composite checksum without ``-<parts>`` and no
  ``x-amz-checksum-type``: S3 returns ``<base64>-<parts>`` and ``COMPOSITE`` (``FULL_OBJECT`` for other
  objects with a checksum). ``GetObjectAttributes`` already answers as S3 does (the value without ``-<parts>``).
- ``CreateMultipartUpload`` ignores the Object Lock headers (``x-amz-object-lock-*``) and the bucket's
  default retention: S3 applies them to the object ``CompleteMultipartUpload`` makes. The twin does, as moto
  does for PutObject.

Only composite (SHA-1/SHA-256, and CRC32/CRC32C unless FULL_OBJECT) uploads are checked; others pass through.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock
from xml.dom import minidom

__all__ = ["s3_multipart_checksums"]

_LOCK = "_twin_object_lock"  # attribute kept on moto's FakeMultipart: (legal hold, mode, retain-until)


def _multipart(response: Any, upload_id: str) -> Any:
    bucket = response.backend.get_bucket(response.bucket_name)
    return bucket.multiparts.get(upload_id)


def _composite_algorithm(multipart: Any) -> str | None:
    """The upload's algorithm when its object checksum is COMPOSITE (S3's rules), else None."""
    algorithm = multipart.metadata.get("x-amz-checksum-algorithm") if multipart is not None else None
    if not algorithm:
        return None
    kind = multipart.metadata.get("x-amz-checksum-type") or ("FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE")
    return str(algorithm).upper() if kind == "COMPOSITE" else None


def _digest(value: bytes, algorithm: str) -> bytes:
    from moto.s3.utils import compute_checksum

    return bytes(compute_checksum(value, algorithm=algorithm, encode_base64=False))


def _insert(body: Any, closing: str, elements: str) -> Any:
    text = body.decode() if isinstance(body, bytes) else str(body)
    text = text.replace(closing, elements + closing, 1)
    return text.encode() if isinstance(body, bytes) else text


def _checked_parts(body: bytes, multipart: Any, algorithm: str) -> tuple[bytes, int]:
    """The concatenated part digests and their number, after S3's checks of the request's part checksums."""
    from moto.s3.exceptions import InvalidPart, S3ClientError

    field = f"Checksum{algorithm}"
    digests, count = bytearray(), 0
    for element in minidom.parseString(body).getElementsByTagName("Part"):
        number = int(element.getElementsByTagName("PartNumber")[0].firstChild.wholeText)  # type: ignore[union-attr]
        given = element.getElementsByTagName(field)
        if not given or not given[0].firstChild:
            raise S3ClientError(
                "InvalidRequest",
                f"The upload was created using a {algorithm.lower()} checksum. The complete request must include "
                f"the checksum for each part. It was missing for part {number} in the request.",
            )
        part = multipart.parts.get(number)
        if part is None:
            raise InvalidPart()
        digest = _digest(part.value, algorithm)
        if base64.b64encode(digest).decode() != given[0].firstChild.wholeText.strip():  # type: ignore[union-attr]
            raise InvalidPart()
        digests.extend(digest)
        count += 1
    return bytes(digests), count


@contextmanager
def s3_multipart_checksums() -> Iterator[None]:
    from moto.s3.responses import S3Response

    original_post = S3Response._key_response_post
    original_part_copy = S3Response.upload_part_copy
    original_head = S3Response.head_object
    original_list_parts = S3Response.list_parts

    def key_response_post(self: Any, request: Any, body: bytes, bucket_name: str, query: dict[str, Any],
                          key_name: str) -> Any:
        if body == b"" and "uploads" in query:  # CreateMultipartUpload
            status, headers, out = original_post(self, request, body, bucket_name, query, key_name)
            found = re.search(r"<UploadId>([^<]+)</UploadId>", out.decode() if isinstance(out, bytes) else str(out))
            multipart = _multipart(self, found.group(1)) if found else None
            if multipart is not None:
                bucket = self.backend.get_bucket(bucket_name)
                setattr(multipart, _LOCK, self._get_lock_details(bucket, bucket.object_lock_enabled))
            return status, headers, out
        if not query.get("uploadId"):
            return original_post(self, request, body, bucket_name, query, key_name)
        multipart = _multipart(self, query["uploadId"][0])  # None: completed already (a retried Complete)
        algorithm = _composite_algorithm(multipart)
        composite = None
        if algorithm is not None and body:
            digests, count = _checked_parts(body, multipart, algorithm)
            composite = (algorithm, base64.b64encode(_digest(digests, algorithm)).decode(), count)
        lock = getattr(multipart, _LOCK, None)
        status, headers, out = original_post(self, request, body, bucket_name, query, key_name)
        if status != 200 or multipart is None:
            return status, headers, out
        key = self.backend.get_object(bucket_name, key_name)
        if lock is not None and key is not None:
            key.lock_legal_status, key.lock_mode, key.lock_until = lock
        if composite is not None:
            name, value, count = composite
            out = _insert(out, "</CompleteMultipartUploadResult>",
                          f"<Checksum{name}>{value}-{count}</Checksum{name}><ChecksumType>COMPOSITE</ChecksumType>")
            headers["content-length"] = str(len(out))
        return status, headers, out

    def upload_part_copy(self: Any) -> Any:
        status, headers, out = original_part_copy(self)
        multipart = _multipart(self, self._get_param("uploadId"))
        algorithm = _composite_algorithm(multipart)
        if status != 200 or algorithm is None:
            return status, headers, out
        part = multipart.parts[self._get_int_param("partNumber")]
        value = base64.b64encode(_digest(part.value, algorithm)).decode()
        part.checksum_algorithm, part.checksum_value = algorithm, value
        out = _insert(out, "</CopyPartResult>", f"<Checksum{algorithm}>{value}</Checksum{algorithm}>")
        headers["content-length"] = str(len(out))
        return status, headers, out

    def list_parts(self: Any) -> Any:
        status, headers, out = original_list_parts(self)
        multipart = _multipart(self, self._get_param("uploadId"))
        algorithm = _composite_algorithm(multipart)
        if status != 200 or algorithm is None:
            return status, headers, out

        def with_checksum(found: re.Match[str]) -> str:
            part = multipart.parts.get(int(found.group(1)))
            if part is None or not getattr(part, "checksum_value", None):
                return found.group(0)
            return f"{found.group(0)}<Checksum{algorithm}>{part.checksum_value}</Checksum{algorithm}>"

        text = out.decode() if isinstance(out, bytes) else str(out)
        text = re.sub(r"<PartNumber>(\d+)</PartNumber>", with_checksum, text)
        out = text.encode() if isinstance(out, bytes) else text
        headers["content-length"] = str(len(out))
        return status, headers, out

    def head_object(self: Any, bucket_name: str, query: dict[str, Any], key_name: str,
                    headers: dict[str, Any]) -> Any:
        status, response_headers, out = original_head(self, bucket_name, query, key_name, headers)
        if status != 200 or headers.get("x-amz-checksum-mode") != "ENABLED" or query.get("partNumber"):
            return status, response_headers, out
        key = self.backend.head_object(bucket_name, key_name, version_id=query.get("versionId", [None])[0])
        if key is None or not key.checksum_algorithm or not key.checksum_type:
            return status, response_headers, out
        response_headers["x-amz-checksum-type"] = key.checksum_type
        if key.checksum_type == "COMPOSITE":
            header = f"x-amz-checksum-{key.checksum_algorithm.lower()}"
            response_headers[header] = f"{key.checksum_value}-{key.checksum_parts}"
        return status, response_headers, out

    with mock.patch.object(S3Response, "_key_response_post", key_response_post), \
            mock.patch.object(S3Response, "upload_part_copy", upload_part_copy), \
            mock.patch.object(S3Response, "head_object", head_object), \
            mock.patch.object(S3Response, "list_parts", list_parts):
        yield

