"""S3 Inventory, read in place: the source bucket's inventory configurations, its newest delivered manifest, and
its data files a bounded slice at a time (domain/inventory.py has the rules and the CSV).

Reading a data file:
- uncompressed CSV (``.csv``): a byte range of at most ``CHUNK_BYTES`` per read, cut at the last whole line;
  the next read starts at the byte after it.
- gzip CSV (``.csv.gz``, what S3 Inventory writes): a gzip stream cannot be entered in the middle, so a read
  streams the file from its start, skipping the lines read before by counting newlines in the decompressed bytes
  (no parsing), and parses at most ``limit`` rows. The rows handled per call are bounded; the bytes streamed are
  bounded by one data file, whose size S3 chooses (it splits a large inventory into many files).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from coffer.adapters.aws import error_code, is_not_found
from coffer.domain.inventory import (
    InvalidInventory,
    InventoryManifest,
    folder_after,
    hours,
    parse_manifest,
    rows_to_items,
    unusable_because,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: bytes of an uncompressed data file read per ranged GET
CHUNK_BYTES = 8 * 1024 * 1024
_STREAM_BYTES = 1024 * 1024


class S3Inventory:
    def __init__(self, client: S3Client) -> None:
        self._s3 = client

    # ---- which inventory ------------------------------------------------------------------------
    def newest_usable(self, bucket: str, now: datetime, max_age: timedelta,
                      listed_before: datetime | None) -> tuple[InventoryManifest | None, str, str]:
        """The newest inventory that may stand in for listing `bucket`: (manifest, its bucket, its key), or
        (None, "", why not)."""
        reasons: list[str] = []
        best: tuple[InventoryManifest, str, str] | None = None
        for config in self._configurations(bucket):
            found, why = self._newest_delivery(bucket, config, now, max_age)
            if found is None:
                reasons.append(f"inventory {config.get('Id')}: {why}")
                continue
            manifest, where, key = found
            why_not = unusable_because(manifest, bucket, now, max_age, listed_before)
            if why_not is not None:
                reasons.append(f"inventory {config.get('Id')}: {why_not}")
            elif best is None or manifest.created_at > best[0].created_at:
                best = (manifest, where, key)
        if best is not None:
            return best
        return None, "", "; ".join(reasons) or "the bucket has no S3 Inventory configuration"

    def _configurations(self, bucket: str) -> Iterator[Mapping[str, Any]]:
        params: dict[str, Any] = {"Bucket": bucket}
        while True:
            try:
                page = self._s3.list_bucket_inventory_configurations(**params)
            except ClientError as error:
                if error_code(error) in ("AccessDenied", "403", "NoSuchConfiguration"):
                    return  # none we may read: the bucket is listed instead
                raise
            yield from page.get("InventoryConfigurationList", [])
            if not page.get("IsTruncated") or not page.get("NextContinuationToken"):
                return
            params["ContinuationToken"] = page["NextContinuationToken"]

    def _newest_delivery(self, bucket: str, config: Mapping[str, Any], now: datetime,
                         max_age: timedelta) -> tuple[tuple[InventoryManifest, str, str] | None, str]:
        if not config.get("IsEnabled"):
            return None, "disabled"
        if (config.get("Filter") or {}).get("Prefix"):
            return None, f"covers only the prefix {config['Filter']['Prefix']!r}"
        destination = config.get("Destination", {}).get("S3BucketDestination", {})
        if destination.get("Format", "").upper() != "CSV":
            return None, f"its format is {destination.get('Format')} (Coffer reads CSV inventories)"
        where = str(destination.get("Bucket", "")).rsplit(":", 1)[-1]
        prefix = destination.get("Prefix", "").strip("/")
        base = f"{prefix}/" if prefix else ""
        base += f"{bucket}/{config['Id']}/"
        # Only the delivery folders young enough: listed after the oldest acceptable folder name.
        folders: list[str] = []
        params: dict[str, Any] = {"Bucket": where, "Prefix": base, "Delimiter": "/",
                                  "StartAfter": base + folder_after(now, max_age)}
        while True:
            page = self._s3.list_objects_v2(**params)
            folders.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
            if not page.get("IsTruncated"):
                break
            params["ContinuationToken"] = page["NextContinuationToken"]
        dated = sorted((f for f in folders if f[len(base):len(base) + 1].isdigit()), reverse=True)
        for folder in dated:
            try:  # manifest.checksum is written last: without it the delivery is not complete
                checksum = self._s3.get_object(Bucket=where, Key=f"{folder}manifest.checksum")["Body"].read()
                raw = self._s3.get_object(Bucket=where, Key=f"{folder}manifest.json")["Body"].read()
            except ClientError as error:
                if is_not_found(error):
                    continue
                raise
            try:
                return (parse_manifest(raw, checksum), where, f"{folder}manifest.json"), ""
            except InvalidInventory as error:
                return None, str(error)
        return None, f"no complete delivery in the last {hours(max_age)}"

    def manifest(self, where: str, key: str) -> InventoryManifest:
        return parse_manifest(self._s3.get_object(Bucket=where, Key=key)["Body"].read())

    # ---- reading a data file --------------------------------------------------------------------
    def read(self, manifest: InventoryManifest, file_index: int, position: int,
             limit: int) -> tuple[list[dict[str, Any]], int, bool]:
        """At most `limit` objects of data file `file_index` from `position`: (items, next position, file done)."""
        key = manifest.files[file_index].key
        if key.endswith(".gz"):
            return self._read_gzip(manifest, key, position, limit)
        return self._read_range(manifest, key, position, limit)

    def _read_range(self, manifest: InventoryManifest, key: str, offset: int,
                    limit: int) -> tuple[list[dict[str, Any]], int, bool]:
        size = manifest.files[[f.key for f in manifest.files].index(key)].size or None
        items: list[dict[str, Any]] = []
        while len(items) < limit and (size is None or offset < size):
            try:
                body = self._s3.get_object(Bucket=manifest.data_bucket, Key=key,
                                           Range=f"bytes={offset}-{offset + CHUNK_BYTES - 1}")["Body"].read()
            except ClientError as error:
                if error_code(error) == "InvalidRange":
                    return items, offset, True
                raise
            if not body:
                return items, offset, True
            last = body.rfind(b"\n")
            whole = body if (last < 0 or len(body) < CHUNK_BYTES) else body[:last + 1]
            lines = whole.decode("utf-8").splitlines()
            taken = 0
            for line in lines:
                if len(items) >= limit:
                    break
                items.extend(rows_to_items([line], manifest.columns))
                offset += len(line.encode("utf-8")) + 1
                taken += 1
            if taken == len(lines) and len(body) < CHUNK_BYTES:
                return items, offset, True
        return items, offset, size is not None and offset >= size

    def _read_gzip(self, manifest: InventoryManifest, key: str, skip: int,
                   limit: int) -> tuple[list[dict[str, Any]], int, bool]:
        body = self._s3.get_object(Bucket=manifest.data_bucket, Key=key)["Body"]
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        items: list[dict[str, Any]] = []
        seen, pending = 0, b""
        try:
            while True:
                chunk = body.read(_STREAM_BYTES)
                data = pending + (inflate.decompress(chunk) if chunk else inflate.flush())
                lines = data.split(b"\n")
                pending = lines.pop() if chunk else b""
                if not chunk and lines and lines[-1] == b"":
                    lines.pop()
                for line in lines:
                    if seen < skip:  # read by an earlier call: counted, not parsed
                        seen += 1
                        continue
                    if len(items) >= limit:
                        return items, seen, False
                    items.extend(rows_to_items([line.decode("utf-8")], manifest.columns))
                    seen += 1
                if not chunk:
                    return items, seen, True
        finally:
            body.close()
