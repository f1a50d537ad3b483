"""boto3 clients with one retry policy: throttling and 5xx are retried with exponential backoff and jitter."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

#: botocore's "standard" mode retries throttling, 5xx and timeouts with jittered exponential backoff.
RETRY_CONFIG = Config(retries={"max_attempts": 8, "mode": "standard"}, connect_timeout=5, read_timeout=60)


def client(service: str, region: str | None = None, session: boto3.Session | None = None) -> Any:
    made = (session or boto3.Session()).client(service, region_name=region, config=RETRY_CONFIG)
    if service == "s3":
        made.meta.events.register("before-sign.s3.CopyObject", _name_copy_checksum)
    return made


def _name_copy_checksum(request: Any, **_: Any) -> None:
    """Repeat CopyObject's checksum algorithm in the SDK's header.

    A copy into an Object Lock bucket must prove integrity with Content-MD5 or a checksum algorithm;
    botocore sends CopyObject's as x-amz-checksum-algorithm only, which moto (and the older S3 rule)
    does not accept. S3 reads the same value from either header.
    """
    algorithm = request.headers.get("x-amz-checksum-algorithm")
    if algorithm and "x-amz-sdk-checksum-algorithm" not in request.headers:
        request.headers["x-amz-sdk-checksum-algorithm"] = algorithm


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_not_found(error: ClientError) -> bool:
    return error_code(error) in {"404", "NoSuchKey", "NotFound", "NoSuchBucket", "ResourceNotFoundException",
                                 "TableNotFoundException", "BackupNotFoundException"}
