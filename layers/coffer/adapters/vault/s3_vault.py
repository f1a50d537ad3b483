"""The WORM vault: an S3 bucket with Object Lock. Every object Coffer writes carries an explicit retention.

S3 enforces immutability; this code only ever sets or *extends* retention, in the mode the version already
has, and checks S3's rules (domain/object_lock.py) before every change: it never shortens a retain-until date
and never changes a COMPLIANCE mode (moto would allow both; S3 would not, and Coffer must not rely on either).
BypassGovernanceRetention is passed by one method only, delete_version_bypassing_governance, which only the
audited operator command (`coffer vault bypass-governance`) calls.

The methods a backup or restore calls for one object (lock_of, copy_in, secure, tags_of, set_tags) raise
ObjectRefused when S3 refuses that object for good (adapters/aws.py `refuses_objects`), so the batch names it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

from botocore.exceptions import ClientError, FlexibleChecksumError

from coffer.adapters.aws import error_code, is_not_found, refuses_objects
from coffer.adapters.checksums import b64_to_hex
from coffer.domain.clock import Clock
from coffer.domain.cold_tier import ThawOutcome, thaw_outcome
from coffer.domain.errors import AlreadyStored, IntegrityError, NotFound, ObjectLockRefusal, ObjectRefused
from coffer.domain.manifest import sha256_hex
from coffer.domain.object_lock import LockMode, VersionLock, retention_change_refusal
from coffer.domain.vaults import Seal
from coffer.ports.vault import ListedVersion, LockFacts, StoredObject, Written

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import ObjectLockModeType, TierType
    from mypy_boto3_s3.type_defs import CopySourceTypeDef, RestoreObjectRequestTypeDef


#: S3's answers to a VersionId that is not (or no longer) there
_NO_VERSION = {"NoSuchVersion", "InvalidArgument"}


#: CopyObject's answer when the source's ETag is no longer the one the copy was pinned to (CopySourceIfMatch)
_SOURCE_CHANGED = frozenset({"PreconditionFailed", "412"})
#: PutObjectRetention's answers when a version or its lock is not what the catalog recorded (missing, deleted, a
#: delete marker, locked longer or in another mode): look before deciding
_NOT_AS_RECORDED = frozenset({"AccessDenied", "NoSuchVersion", "NoSuchKey", "404", "InvalidArgument",
                              "InvalidRequest", "MethodNotAllowed"})


def _address(checksum: str | None) -> str | None:
    """S3's SHA-256 checksum (base64, `-<parts>` for a composite one) as a blob's content address names it."""
    if not checksum:
        return None
    value, _, parts = checksum.partition("-")
    return b64_to_hex(value) + (f"-{parts}" if parts else "")


def _merged(versions: list[ListedVersion], markers: list[ListedVersion]) -> list[ListedVersion]:
    """One key's versions and delete markers (each newest first, as S3 lists them) as one list, newest first: the
    latest first, then by time (S3's own order kept within each list)."""
    merged: list[ListedVersion] = []
    while versions or markers:
        take_version = not markers or (versions and (
            versions[0].latest or (not markers[0].latest and versions[0].last_modified >= markers[0].last_modified)))
        merged.append(versions.pop(0) if take_version else markers.pop(0))
    return merged


def _sse(kms_key_id: str | None) -> dict[str, Any]:
    """SSE-KMS with the vault's own key (the bucket's default is the stack's key)."""
    if not kms_key_id:
        return {}
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id, "BucketKeyEnabled": True}


def _s3_mode(mode: str) -> ObjectLockModeType:
    """An Object Lock mode as S3 names it (ValueError for anything else)."""
    return "COMPLIANCE" if LockMode(mode) is LockMode.COMPLIANCE else "GOVERNANCE"


def _seal_args(seal: Seal) -> dict[str, Any]:
    return {"mode": seal.mode.value, "kms_key_id": seal.kms_key_arn}


class S3Vault:
    """`clock`: what "now" is when this code decides, before S3 does, whether a lock is still in force."""

    def __init__(self, client: S3Client, bucket: str, lock_mode: str, clock: Clock) -> None:
        self._s3 = client
        self.bucket = bucket
        self.lock_mode = lock_mode
        self._clock = clock

    def put_locked(self, key: str, body: bytes, retain_until: datetime, content_type: str = "application/json",
                   *, mode: str | None = None, kms_key_id: str | None = None, create_only: bool = False) -> Written:
        """Write an object under Object Lock; return its SHA-256 (hex) as S3 computed and we checked it, with the
        VersionId S3 gave the new version (what a recovery point pins).

        `mode`/`kms_key_id`: the vault's (domain/vaults.py Seal; default: the stack's mode and the bucket's
        default key). `create_only`: AlreadyStored if the key exists (S3 conditional write, If-None-Match: *).
        """
        expected = sha256_hex(body)
        extra: dict[str, Any] = _sse(kms_key_id)
        if create_only:
            extra["IfNoneMatch"] = "*"
        try:
            response = self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, ChecksumAlgorithm="SHA256",
                ObjectLockMode=_s3_mode(mode or self.lock_mode), ObjectLockRetainUntilDate=retain_until, **extra,
            )
        except ClientError as error:
            if create_only and error_code(error) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                raise AlreadyStored(f"s3://{self.bucket}/{key} exists") from error
            raise
        reported = response.get("ChecksumSHA256")
        if reported and b64_to_hex(reported) != expected:
            raise IntegrityError(f"s3://{self.bucket}/{key}: S3 stored SHA-256 {b64_to_hex(reported)}, sent {expected}")
        return Written(expected, response.get("VersionId"))

    def put_json_locked(self, key: str, document: Any, retain_until: datetime, seal: Seal | None = None) -> Written:
        body = json.dumps(document, sort_keys=True, default=str).encode()
        return self.put_locked(key, body, retain_until, **(_seal_args(seal) if seal else {}))

    def get_bytes(self, key: str) -> bytes:
        """The newest version's bytes: only for what has no pinned version (descriptors, audit records, recovery
        points written before versions were pinned). Everything a manifest pins is read with get_bytes_version."""
        return self._read(key, None)

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def get_bytes_version(self, key: str, version_id: str) -> bytes:
        """One pinned version's bytes (GetObject VersionId=...): a newer version or a delete marker over it changes
        nothing this reads."""
        if not version_id:
            raise ValueError(f"s3://{self.bucket}/{key}: version_id must be a VersionId S3 gave, not empty")
        return self._read(key, version_id)

    def get_json_version(self, key: str, version_id: str) -> Any:
        return json.loads(self.get_bytes_version(key, version_id))

    def _read(self, key: str, version_id: str | None) -> bytes:
        where = f"s3://{self.bucket}/{key}" + (f"?versionId={version_id}" if version_id else "")
        pinned: dict[str, Any] = {"VersionId": version_id} if version_id else {}
        try:
            body: bytes = self._s3.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED",
                                              **pinned)["Body"].read()
        except ClientError as error:
            if is_not_found(error) or error_code(error) in _NO_VERSION:
                raise NotFound(f"{where} not found") from error
            raise
        except FlexibleChecksumError as error:  # the SDK checks S3's stored checksum while reading
            raise IntegrityError(f"{where}: bytes do not match S3's stored checksum") from error
        return body

    @refuses_objects
    def lock_of(self, key: str) -> LockFacts:
        """(exists, retain-until date) of an object's current version; its mode etc. as attributes."""
        return self._head(key, None)

    @refuses_objects
    def lock_of_version(self, key: str, version_id: str) -> LockFacts:
        """The lock of one pinned version (HeadObject VersionId=...); exists False if that version is gone."""
        if not version_id:
            raise ValueError(f"s3://{self.bucket}/{key}: version_id must be a VersionId S3 gave, not empty")
        return self._head(key, version_id)

    def _head(self, key: str, version_id: str | None) -> LockFacts:
        pinned: dict[str, Any] = {"VersionId": version_id} if version_id else {}
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED", **pinned)
        except ClientError as error:
            if is_not_found(error) or error_code(error) in _NO_VERSION:
                return LockFacts(False, None)
            raise
        return LockFacts(True, head.get("ObjectLockRetainUntilDate"), head.get("ObjectLockMode"),
                         head.get("ObjectLockLegalHoldStatus") == "ON", head.get("VersionId"),
                         head.get("StorageClass"), head.get("Restore"), _address(head.get("ChecksumSHA256")))

    def extend_retention(self, key: str, until: datetime) -> bool:
        """Make the object's lock last at least until `until`. Never shortens. True if it changed.

        The current date is always read from S3, never from a cache: a stale date could make this call
        ask S3 to shorten a lock (which S3 refuses for COMPLIANCE and, without a bypass, for GOVERNANCE).
        If another writer extends the same blob between our read and our write and S3 refuses ours, the
        lock is re-read: already long enough is success.
        """
        return self._extend(key, until, self.lock_of(key), None)

    def _extend(self, key: str, until: datetime, found: tuple[bool, datetime | None], mode: LockMode | None) -> bool:
        """extend_retention with the lock just read. The version keeps its mode: a COMPLIANCE one stays
        COMPLIANCE whatever the vault says now (S3 refuses COMPLIANCE -> GOVERNANCE; moto would not)."""
        current = found[1]
        if current is not None and current >= until:
            return False
        held = getattr(found, "mode", None)
        if held is None and current is not None:
            held = self._mode_of(key)
        active = current is not None and current > self._clock.now()
        target = (held if active else None) or mode or LockMode(self.lock_mode)
        self._refuse_what_s3_refuses(key, VersionLock(held, current), target, until)
        try:
            self._s3.put_object_retention(
                Bucket=self.bucket, Key=key, Retention={"Mode": _s3_mode(target), "RetainUntilDate": until})
        except ClientError:
            now_locked = self.lock_of(key)[1]
            if now_locked is not None and now_locked >= until:
                return False
            raise
        return True

    def extend_pinned(self, key: str, version_id: str, recorded: VersionLock, mode: LockMode,
                      until: datetime) -> LockMode | None:
        """One PutObjectRetention on the pinned version, no HeadObject first: the catalog's record of its lock stands
        in for the look, and S3 is the check. S3 refuses a shorter date on an active lock (COMPLIANCE always;
        GOVERNANCE without the bypass header, which Coffer never sends here), another mode on an active COMPLIANCE
        lock, and a version that is gone - each answered None, and the caller looks. Never attempted where the
        record already says S3 would refuse."""
        active = recorded.retention_active(self._clock.now())
        target = (recorded.mode if active else None) or mode
        if recorded.retain_until is not None and recorded.retain_until >= until:
            return target  # long enough as recorded: nothing to send
        if retention_change_refusal(recorded, target, until, self._clock.now()):
            return None
        try:
            self._s3.put_object_retention(Bucket=self.bucket, Key=key, VersionId=version_id,
                                          Retention={"Mode": _s3_mode(target), "RetainUntilDate": until})
        except ClientError as error:
            if error_code(error) in _NOT_AS_RECORDED:
                return None
            raise
        return target

    @refuses_objects
    def copy_in(self, source_bucket: str, source_key: str, key: str, retain_until: datetime,
                source_version: str | None = None, seal: Seal | None = None,
                tags: dict[str, str] | None = None, if_match: str | None = None) -> Written:
        """Server-side copy into the vault under Object Lock; S3 computes the SHA-256 (hex returned, with the new
        version's VersionId). `source_version` pins the version copied (CopySource VersionId).

        `tags`: the new version's tags (a blob's warm-until, domain/cold_tier.py); none by default. `if_match`: the
        source's ETag (CopySourceIfMatch) where no version pins it - S3 refuses the copy if it was replaced.
        """
        source: CopySourceTypeDef = {"Bucket": source_bucket, "Key": source_key}
        pinned: dict[str, Any] = {}
        if source_version:
            source["VersionId"] = source_version
        elif if_match:
            pinned["CopySourceIfMatch"] = f'"{if_match.strip(chr(34))}"'
        try:
            response = self._s3.copy_object(**pinned,
                Bucket=self.bucket, Key=key, CopySource=source, ChecksumAlgorithm="SHA256",
                MetadataDirective="REPLACE", ContentType="application/octet-stream", TaggingDirective="REPLACE",
                Tagging=urlencode(tags or {}),
                ObjectLockMode=_s3_mode(seal.mode if seal else self.lock_mode), ObjectLockRetainUntilDate=retain_until,
                **_sse(seal.kms_key_arn if seal else None),
            )
        except ClientError as error:
            if pinned and error_code(error) in _SOURCE_CHANGED:
                raise ObjectRefused("SourceChanged", f"s3://{source_bucket}/{source_key} was replaced since it was "
                                    f"read (its ETag is no longer {if_match}): backed up by the next backup") from error
            raise
        return Written(b64_to_hex(response["CopyObjectResult"]["ChecksumSHA256"]), response.get("VersionId"))

    # ---- cold storage (domain/cold_tier.py) -------------------------------------------------------
    @refuses_objects
    def tags_of(self, key: str) -> dict[str, str]:
        """The current version's tags (a blob's warm-until and tier)."""
        tag_set = self._s3.get_object_tagging(Bucket=self.bucket, Key=key).get("TagSet", [])
        return {t["Key"]: t["Value"] for t in tag_set}

    @refuses_objects
    def set_tags(self, key: str, tags: dict[str, str]) -> None:
        """Replace the current version's tags. Object Lock protects bytes and retention, not tags: this never
        touches what is locked, and S3 lifecycle rules filter on them (the archive transition)."""
        self._s3.put_object_tagging(Bucket=self.bucket, Key=key,
                                    Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})

    def thaw(self, key: str, days: int, tier: str, version_id: str | None = None) -> ThawOutcome:
        """Ask S3 to bring an archived version back for `days` (RestoreObject); whether it is readable now.

        The pinned version is the one asked for: a newer version written over the key (never Coffer's) is not what
        a restore reads, so thawing it would leave the pinned one archived and the restore waiting."""
        request: RestoreObjectRequestTypeDef = {"Bucket": self.bucket, "Key": key, "RestoreRequest": {
            # the tier is the stack's THAW_TIER, passed on as it is: S3 refuses one it does not know
            "Days": days, "GlacierJobParameters": {"Tier": cast("TierType", tier)}}}
        if version_id:
            request["VersionId"] = version_id
        try:
            response = self._s3.restore_object(**request)
        except ClientError as error:
            if error_code(error) in ("InvalidObjectState", "RestoreAlreadyInProgress"):
                return thaw_outcome(error_code(error))
            raise
        return thaw_outcome(str(response["ResponseMetadata"]["HTTPStatusCode"]))

    # ---- the vault's own rules ------------------------------------------------------------------------
    @refuses_objects
    def secure(self, key: str, seal: Seal) -> LockFacts:
        """Make an existing (shared, content-addressed) object meet a recovery point's seal: locked at least
        until seal.retain_until, in seal.mode or stricter. Returns its lock afterwards.

        A GOVERNANCE version that must now be COMPLIANCE (its vault got a COMPLIANCE lock) is not converted
        in place - that would need a governance bypass - but re-sealed: copied onto itself server-side as a
        new COMPLIANCE version (the GOVERNANCE one stays, locked, underneath).
        """
        found = self.lock_of(key)
        if not found[0]:
            raise NotFound(f"s3://{self.bucket}/{key} not found")
        now = self._clock.now()
        if seal.mode is LockMode.COMPLIANCE and found.lock.mode is not LockMode.COMPLIANCE:
            current = found[1] if found.lock.retention_active(now) else None
            until = max(seal.retain_until, current) if current else seal.retain_until
            self._s3.copy_object(
                Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key},
                ChecksumAlgorithm="SHA256", MetadataDirective="REPLACE", ContentType="application/octet-stream",
                ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until, **_sse(seal.kms_key_arn))
            return self.lock_of(key)
        if self._extend(key, seal.retain_until, found, seal.mode):
            return LockFacts(True, seal.retain_until, (found.mode or seal.mode).value, found.legal_hold,
                             found.version_id, found.storage_class, found.restore, found.checksum)
        return found

    def _mode_of(self, key: str) -> LockMode | None:
        mode = self._s3.head_object(Bucket=self.bucket, Key=key).get("ObjectLockMode")
        return LockMode(mode) if mode else None

    def _refuse_what_s3_refuses(self, key: str, current: VersionLock, mode: LockMode, until: datetime) -> None:
        """Never *attempt* a retention change S3 refuses, even where the emulator would let it pass."""
        refusal = retention_change_refusal(current, mode, until, self._clock.now())
        if refusal:
            raise ObjectLockRefusal(f"s3://{self.bucket}/{key}: {refusal}")

    def checksum_of(self, key: str, version_id: str | None = None) -> tuple[str | None, int] | None:
        """(S3's full-object SHA-256 in hex or None, size) without reading bytes; None if missing. `version_id`: of
        that version (GetObjectAttributes VersionId=...)."""
        pinned: dict[str, Any] = {"VersionId": version_id} if version_id else {}
        try:
            attributes = self._s3.get_object_attributes(Bucket=self.bucket, Key=key,
                                                        ObjectAttributes=["Checksum", "ObjectSize"], **pinned)
        except ClientError as error:
            if is_not_found(error) or error_code(error) in _NO_VERSION:
                return None
            raise
        checksum = attributes.get("Checksum", {})
        full = checksum.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
        sha = b64_to_hex(checksum["ChecksumSHA256"]) if checksum.get("ChecksumSHA256") and full else None
        return sha, int(attributes.get("ObjectSize", 0))

    def stream_sha256(self, key: str, chunk: int = 8 * 1024 * 1024,
                      version_id: str | None = None) -> tuple[str, int]:
        """Re-read an object and hash its bytes (streamed, never held whole): (sha256 hex, size). `version_id`:
        that version's bytes."""
        pinned: dict[str, Any] = {"VersionId": version_id} if version_id else {}
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key, **pinned)["Body"]
        except ClientError as error:
            if is_not_found(error) or error_code(error) in _NO_VERSION:
                raise NotFound(f"s3://{self.bucket}/{key} not found") from error
            raise
        digest, size = hashlib.sha256(), 0
        try:
            for block in iter(lambda: body.read(chunk), b""):
                digest.update(block)
                size += len(block)
        except FlexibleChecksumError as error:  # the SDK checks S3's stored checksum while reading
            raise IntegrityError(f"s3://{self.bucket}/{key}: bytes do not match S3's stored checksum") from error
        return digest.hexdigest(), size

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None:
        self._s3.put_object_legal_hold(Bucket=self.bucket, Key=key, VersionId=version_id,
                                       LegalHold={"Status": "ON" if on else "OFF"})

    def delete_version_bypassing_governance(self, key: str, version_id: str) -> None:
        """The one call in Coffer that passes BypassGovernanceRetention: only the audited operator command
        (`coffer vault bypass-governance`) reaches it, and the bucket policy lets only the operator role."""
        self._s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id, BypassGovernanceRetention=True)

    def versions(self, prefix: str) -> Iterator[tuple[str, str]]:
        """(key, version id) of every object version under a prefix (delete markers left out)."""
        for page in self._s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=prefix):
            for version in page.get("Versions", []):
                yield version["Key"], version["VersionId"]

    def history(self, key: str, *, under: bool = False) -> list[ListedVersion]:
        """Every version and delete marker of exactly `key` (`under`: of every key under it), each key's newest
        first (paginated ListObjectVersions, which lists a key's versions newest first, its markers apart)."""
        versions: dict[str, list[ListedVersion]] = {}
        markers: dict[str, list[ListedVersion]] = {}
        for page in self._s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key):
            for listed, into, marker in ((page.get("Versions", []), versions, False),
                                         (page.get("DeleteMarkers", []), markers, True)):
                for v in listed:
                    if under or v["Key"] == key:
                        into.setdefault(v["Key"], []).append(ListedVersion(
                            v["Key"], v["VersionId"], v["LastModified"], marker, bool(v.get("IsLatest"))))
        found: list[ListedVersion] = []
        for name in sorted({*versions, *markers}):
            found += _merged(versions.get(name, []), markers.get(name, []))
        return found

    def keys(self, prefix: str) -> Iterator[StoredObject]:
        """Every current object under a prefix (paginated ListObjectsV2)."""
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for listed in page.get("Contents", []):
                yield StoredObject(listed["Key"], listed["Size"], listed["LastModified"])

    def list_page(self, prefix: str, token: str | None, max_keys: int = 1000,
                  delimiter: str | None = None) -> tuple[list[StoredObject], list[str], str | None]:
        """One ListObjectsV2 page: (objects, common prefixes, next token or None)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": max_keys}
        if token:
            params["ContinuationToken"] = token
        if delimiter:
            params["Delimiter"] = delimiter
        page = self._s3.list_objects_v2(**params)
        prefixes = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
        objects = [StoredObject(o["Key"], o["Size"], o["LastModified"]) for o in page.get("Contents", [])]
        return objects, prefixes, token
