"""An S3 Inventory delivery written as S3 writes one (moto stores inventory configurations but delivers nothing):
the configuration on the source bucket, gzip CSV data files and manifest.json + manifest.checksum in the
destination bucket. For the tests and bench only; the bucket is read through the API like any client would.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

from coffer.domain.clock import Clock
from coffer.domain.inventory import FOLDER_FORMAT

SCHEMA = ("Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, "
          "ChecksumAlgorithm")


def configure_inventory(s3: Any, bucket: str, destination: str, config_id: str = "daily", prefix: str = "inventory",
                        file_format: str = "CSV", filter_prefix: str | None = None) -> None:
    existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    if destination not in existing:
        s3.create_bucket(Bucket=destination)
    configuration: dict[str, Any] = {
        "Id": config_id, "IsEnabled": True, "IncludedObjectVersions": "Current",
        "Schedule": {"Frequency": "Daily"},
        "OptionalFields": ["Size", "LastModifiedDate", "ETag", "StorageClass", "ChecksumAlgorithm"],
        "Destination": {"S3BucketDestination": {"Bucket": f"arn:aws:s3:::{destination}", "Format": file_format,
                                                "Prefix": prefix}}}
    if filter_prefix:
        configuration["Filter"] = {"Prefix": filter_prefix}
    s3.put_bucket_inventory_configuration(Bucket=bucket, Id=config_id, InventoryConfiguration=configuration)


def deliver_inventory(s3: Any, bucket: str, destination: str, rows: Iterable[dict[str, Any]], created: datetime,
                      config_id: str = "daily", prefix: str = "inventory", rows_per_file: int = 1000,
                      compress: bool = True, complete: bool = True) -> str:
    """Write one delivery of `rows` ({key, size, etag, last_modified, [version_id, is_latest, delete_marker]});
    returns the manifest's key. `complete=False` leaves out manifest.checksum (a delivery still being written)."""
    folder = f"{prefix}/{bucket}/{config_id}/{created.strftime(FOLDER_FORMAT)}/"
    files: list[dict[str, Any]] = []
    chunk: list[list[str]] = []

    def flush() -> None:
        text = io.StringIO()
        csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(chunk)
        raw = text.getvalue().encode()
        body = gzip.compress(raw) if compress else raw
        key = f"{prefix}/{bucket}/{config_id}/data/{created.strftime(FOLDER_FORMAT)}-{len(files):05d}.csv"
        key += ".gz" if compress else ""
        s3.put_object(Bucket=destination, Key=key, Body=body)
        md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
        files.append({"key": key, "size": len(body), "MD5checksum": md5})
        chunk.clear()

    for row in rows:
        modified = row["last_modified"]
        stamp = (modified.strftime("%Y-%m-%dT%H:%M:%S.") + f"{modified.microsecond // 1000:03d}Z"
                 if isinstance(modified, datetime) else str(modified))
        chunk.append([bucket, quote_plus(row["key"], safe="/"), row.get("version_id") or "",
                      "true" if row.get("is_latest", True) else "false",
                      "true" if row.get("delete_marker", False) else "false",
                      str(row["size"]), stamp, row["etag"].strip('"'), row.get("storage_class") or "STANDARD",
                      row.get("checksum_algorithm") or ""])
        if len(chunk) >= rows_per_file:
            flush()
    if chunk or not files:
        flush()
    manifest = json.dumps({
        "sourceBucket": bucket, "destinationBucket": f"arn:aws:s3:::{destination}", "version": "2016-11-30",
        "creationTimestamp": str(int(created.timestamp() * 1000)), "fileFormat": "CSV", "fileSchema": SCHEMA,
        "files": files}).encode()
    s3.put_object(Bucket=destination, Key=f"{folder}manifest.json", Body=manifest)
    if complete:
        s3.put_object(Bucket=destination, Key=f"{folder}manifest.checksum",
                      Body=hashlib.md5(manifest, usedforsecurity=False).hexdigest().encode())
    return f"{folder}manifest.json"


def bucket_rows(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """The bucket's objects as an inventory lists them (read with ListObjectsV2: the test's own view)."""
    rows: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        rows.extend({"key": o["Key"], "size": o["Size"], "etag": o["ETag"], "last_modified": o["LastModified"],
                     "storage_class": o.get("StorageClass"),
                     "checksum_algorithm": ",".join(o.get("ChecksumAlgorithm") or [])}
                    for o in page.get("Contents", []))
    return rows


def write_inventory(s3: Any, bucket: str, destination: str, clock: Clock, rows_per_file: int = 1000) -> str:
    """Configure an inventory of `bucket` and deliver one of it as it is now (bench/scale.py --listing inventory)."""
    configure_inventory(s3, bucket, destination)
    return deliver_inventory(s3, bucket, destination, bucket_rows(s3, bucket), clock.now(), rows_per_file=rows_per_file)
