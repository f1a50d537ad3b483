"""S3 Inventory as an S3 backup's listing: which inventory may be used, its manifest, and its CSV rows.

S3 Inventory delivers, for a configuration of a source bucket, under
``<destination prefix>/<source bucket>/<configuration id>/<YYYY-MM-DDTHH-MMZ>/`` a ``manifest.json`` (the
schema and the data files) and a ``manifest.checksum`` (its MD5, written last). CSV data files (gzip-compressed,
``.csv.gz``) hold one object per line, the columns in the manifest's ``fileSchema`` order, the key URL-encoded.

An inventory may stand in for listing the bucket only when it describes the whole bucket recently enough:
enabled, CSV, no prefix filter, with Size, LastModifiedDate and ETag (change detection needs them), delivered at
most ``max_age`` ago, and not older than what the bucket's previous backup listed (a recovery point never goes
back in time: an object the previous backup saw must not vanish because an older inventory lacked it). Objects
it lists but since deleted are skipped by the copy step (it HEADs them), as with a listing.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field

from coffer.domain.errors import CofferError

#: the columns a row must have for the copy step's change detection (same facts as a listing gives)
REQUIRED_FIELDS = ("Key", "Size", "LastModifiedDate", "ETag")
#: a token of an inventory listing (a ListObjectsV2 continuation token never starts so)
TOKEN_PREFIX = "inventory|"
FOLDER_FORMAT = "%Y-%m-%dT%H-%MZ"


class InvalidInventory(CofferError):
    """An inventory manifest or data file that does not read as S3 Inventory writes it."""


class InventoryFile(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    key: str
    size: int = 0
    md5: str | None = Field(default=None, alias="MD5checksum")


class InventoryManifest(BaseModel):
    """manifest.json, with the fields Coffer reads."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    source_bucket: str = Field(alias="sourceBucket")
    destination_bucket: str = Field(alias="destinationBucket")
    file_format: str = Field(alias="fileFormat")
    file_schema: str = Field(alias="fileSchema")
    created_ms: int = Field(alias="creationTimestamp")
    files: tuple[InventoryFile, ...] = ()

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created_ms / 1000, tz=UTC)

    @property
    def columns(self) -> list[str]:
        return [c.strip() for c in self.file_schema.split(",")]

    @property
    def data_bucket(self) -> str:
        """The bucket holding the data files (destinationBucket is an ARN)."""
        return self.destination_bucket.rsplit(":", 1)[-1]


def parse_manifest(raw: bytes, checksum: bytes | None = None) -> InventoryManifest:
    """manifest.json; with `checksum` (manifest.checksum), refused unless its MD5 matches (a partial write)."""
    if checksum is not None and hashlib.md5(raw, usedforsecurity=False).hexdigest() != checksum.decode().strip():
        raise InvalidInventory("manifest.json does not match manifest.checksum")
    try:
        return InventoryManifest.model_validate(json.loads(raw))
    except ValueError as error:
        raise InvalidInventory(f"manifest.json: {error}") from None


def unusable_because(manifest: InventoryManifest, bucket: str, now: datetime, max_age: timedelta,
                     listed_before: datetime | None) -> str | None:
    """Why this inventory may not stand in for listing `bucket` now (None: it may)."""
    if manifest.source_bucket != bucket:
        return f"it is the inventory of bucket {manifest.source_bucket}"
    if manifest.file_format.upper() != "CSV":
        return f"its format is {manifest.file_format} (Coffer reads CSV inventories)"
    missing = [f for f in REQUIRED_FIELDS if f not in manifest.columns]
    if missing:
        return f"it lacks the fields {', '.join(missing)}"
    if manifest.created_at < now - max_age:
        return f"its newest delivery ({manifest.created_at.isoformat()}) is older than {hours(max_age)}"
    if listed_before is not None and manifest.created_at < listed_before:
        return (f"its newest delivery ({manifest.created_at.isoformat()}) is older than the bucket's previous backup "
                f"({listed_before.isoformat()})")
    return None


def hours(age: timedelta) -> str:
    return f"{age.total_seconds() / 3600:g} h"


def folder_after(now: datetime, max_age: timedelta) -> str:
    """The delivery folder name to list after: only deliveries young enough are listed (bounded by age, not by
    how long the configuration has existed)."""
    return (now - max_age - timedelta(minutes=1)).strftime(FOLDER_FORMAT)


def rows_to_items(lines: Iterable[str], columns: list[str]) -> Iterator[dict[str, Any]]:
    """Objects of CSV inventory lines, as the listing gives them (key, size, etag, last_modified; storage_class and
    sha256_kept where the inventory has StorageClass and ChecksumAlgorithm): the current versions only (a row of an
    older version or a delete marker is not a current object)."""
    index = {name: n for n, name in enumerate(columns)}
    for row in csv.reader(lines):
        if not row:
            continue
        if len(row) != len(columns):
            raise InvalidInventory(f"a row has {len(row)} fields, the schema {len(columns)}")
        if "IsLatest" in index and row[index["IsLatest"]].lower() == "false":
            continue
        if "IsDeleteMarker" in index and row[index["IsDeleteMarker"]].lower() == "true":
            continue
        modified = datetime.fromisoformat(row[index["LastModifiedDate"]]).astimezone(UTC)
        item: dict[str, Any] = {"key": unquote_plus(row[index["Key"]]), "size": int(row[index["Size"]] or 0),
                                "etag": row[index["ETag"]].strip('"'), "last_modified": modified.isoformat()}
        # optional fields, as the listing gives them where the inventory has them (what a read of the object costs)
        if "StorageClass" in index:
            item["storage_class"] = row[index["StorageClass"]] or "STANDARD"
        if "ChecksumAlgorithm" in index:
            item["sha256_kept"] = row[index["ChecksumAlgorithm"]] == "SHA256"
        yield item


def encode_token(manifest_bucket: str, manifest_key: str, file_index: int, position: int) -> str:
    """Where an inventory listing resumes: the manifest, the data file, and the position in it (rows read of a
    gzip file, bytes of an uncompressed one)."""
    return f"{TOKEN_PREFIX}{file_index}|{position}|{manifest_bucket}|{manifest_key}"


def decode_token(token: str) -> tuple[str, str, int, int]:
    """(manifest bucket, manifest key, file index, position)."""
    if not token.startswith(TOKEN_PREFIX):
        raise InvalidInventory(f"not an inventory token: {token[:40]}")
    file_index, position, bucket, key = token[len(TOKEN_PREFIX):].split("|", 3)
    return bucket, key, int(file_index), int(position)
