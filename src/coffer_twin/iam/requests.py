"""From one AWS API request (as botocore sent it) to the IAM authorisations AWS makes for it.

Each :class:`Authorisation` is one action on one resource, with the request context AWS would build: the
global keys (``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``aws:SecureTransport`` ...) and the service's
own (``s3:ResourceAccount``, ``s3:object-lock-mode``, ``kms:GranteePrincipal``, ``dynamodb:LeadingKeys``,
``events:source``, ``ec2:CreateAction``, ``aws:RequestTag/...``, ``aws:ResourceTag/...``), and the resource's
own policy (bucket policy, key policy, event bus policy, role trust policy) when it has one.

One request may need several (CopyObject: PutObject on the target and GetObject on the source; PutObject
with Object Lock headers: PutObjectRetention too; a DynamoDB transaction: one per item). An operation not
described here raises :class:`Unmapped`: the enforcement refuses it (fails closed) rather than guess.

The request is read as it goes over the wire (URL, headers, body), which is what AWS authorises.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..calls import AwsCall
from . import moto_state
from .moto_state import Principal

__all__ = ["Authorisation", "Unmapped", "authorisations", "request_region"]

_PARTITION = "aws"
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


class Unmapped(Exception):
    """The twin does not know which IAM authorisations this operation needs (it is refused)."""


@dataclass
class Authorisation:
    action: str
    resource: str
    account: str
    """the account that owns the resource (the principal's own when the resource is '*')"""
    context: dict[str, Any] = field(default_factory=dict)
    resource_policy: dict[str, Any] | None = None

    def describe(self) -> str:
        return f"{self.action} on {self.resource}"


def request_region(call: AwsCall, default: str) -> str:
    """The region of the request's SigV4 credential scope (``us-east-1`` for S3's global endpoint)."""
    found = _SCOPE.search(call.headers.get("Authorization", ""))
    return found.group(1) if found else default


# -- reading the request --------------------------------------------------------------------------------
@dataclass
class _Request:
    call: AwsCall
    principal: Principal
    region: str
    account: str  # the account the request acts in (the principal's)

    def json(self) -> dict[str, Any]:
        if not self.call.body:
            return {}
        try:
            document = json.loads(self.call.body)
        except ValueError as error:
            raise Unmapped(f"{self.call.service}.{self.call.operation}: body is not JSON") from error
        return document if isinstance(document, dict) else {}

    def form(self) -> dict[str, str]:
        """Query/EC2 protocol parameters (``Tags.member.1.Key`` style names kept flat)."""
        parsed = parse_qs(self.call.body.decode("utf-8"), keep_blank_values=True) if self.call.body else {}
        return {name: values[0] for name, values in parsed.items()}

    def query(self) -> dict[str, str]:
        parsed = parse_qs(urlsplit(self.call.url).query, keep_blank_values=True)
        return {name: values[0] for name, values in parsed.items()}

    def header(self, name: str) -> str | None:
        for key, value in self.call.headers.items():
            if key.lower() == name.lower():
                return value
        return None

    def arn(self, service: str, resource: str, region: str | None = None, account: str | None = None) -> str:
        return f"arn:{_PARTITION}:{service}:{self.region if region is None else region}:" \
               f"{self.account if account is None else account}:{resource}"


def session_tags(call: AwsCall) -> dict[str, str]:
    """The session tags an sts.AssumeRole call asks for (``Tags.member.N.Key/Value``)."""
    if call.service != "sts" or call.operation != "AssumeRole" or not call.body:
        return {}
    form = {name: values[0] for name, values in parse_qs(call.body.decode("utf-8"), keep_blank_values=True).items()}
    return {m["Key"]: m.get("Value", "") for m in _members(form, "Tags.member")}


def _members(form: dict[str, str], prefix: str) -> list[dict[str, str]]:
    """``Prefix.1.Key=a&Prefix.1.Value=b`` -> [{"Key": "a", "Value": "b"}] (query and EC2 protocols)."""
    found: dict[int, dict[str, str]] = {}
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.(.+)$")
    for name, value in form.items():
        match = pattern.match(name)
        if match:
            found.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [found[n] for n in sorted(found)]


def _tag_context(tags: dict[str, str]) -> dict[str, Any]:
    if not tags:
        return {}
    return {**{f"aws:RequestTag/{k}": v for k, v in tags.items()}, "aws:TagKeys": sorted(tags)}


def _resource_tags(tags: dict[str, str]) -> dict[str, Any]:
    return {f"aws:ResourceTag/{k}": v for k, v in tags.items()}


# -- S3 -----------------------------------------------------------------------------------------------
_S3_VERSIONED = {"GetObject": "GetObjectVersion", "HeadObject": "GetObjectVersion",
                 "GetObjectAttributes": "GetObjectVersionAttributes", "GetObjectTagging": "GetObjectVersionTagging",
                 "PutObjectTagging": "PutObjectVersionTagging", "DeleteObjectTagging": "DeleteObjectVersionTagging",
                 "DeleteObject": "DeleteObjectVersion", "GetObjectAcl": "GetObjectVersionAcl",
                 "PutObjectAcl": "PutObjectVersionAcl"}
_S3_OBJECT = {"GetObject": "GetObject", "HeadObject": "GetObject", "GetObjectAttributes": "GetObjectAttributes",
              "GetObjectTagging": "GetObjectTagging", "PutObjectTagging": "PutObjectTagging",
              "DeleteObjectTagging": "DeleteObjectTagging", "GetObjectRetention": "GetObjectRetention",
              "PutObjectRetention": "PutObjectRetention", "GetObjectLegalHold": "GetObjectLegalHold",
              "PutObjectLegalHold": "PutObjectLegalHold", "DeleteObject": "DeleteObject",
              "RestoreObject": "RestoreObject", "GetObjectAcl": "GetObjectAcl", "PutObjectAcl": "PutObjectAcl",
              "PutObject": "PutObject", "CopyObject": "PutObject", "UploadPart": "PutObject",
              "UploadPartCopy": "PutObject", "CreateMultipartUpload": "PutObject",
              "CompleteMultipartUpload": "PutObject", "AbortMultipartUpload": "AbortMultipartUpload",
              "ListParts": "ListMultipartUploadParts"}
_S3_BUCKET = {"CreateBucket": "CreateBucket", "DeleteBucket": "DeleteBucket", "HeadBucket": "ListBucket",
              "ListObjects": "ListBucket", "ListObjectsV2": "ListBucket", "ListObjectVersions": "ListBucketVersions",
              "ListMultipartUploads": "ListBucketMultipartUploads", "GetBucketLocation": "GetBucketLocation",
              "GetBucketVersioning": "GetBucketVersioning", "PutBucketVersioning": "PutBucketVersioning",
              "GetBucketTagging": "GetBucketTagging", "PutBucketTagging": "PutBucketTagging",
              "DeleteBucketTagging": "PutBucketTagging", "GetBucketPolicy": "GetBucketPolicy",
              "PutBucketPolicy": "PutBucketPolicy", "DeleteBucketPolicy": "DeleteBucketPolicy",
              "GetBucketPolicyStatus": "GetBucketPolicyStatus",
              "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
              "PutObjectLockConfiguration": "PutBucketObjectLockConfiguration",
              "GetBucketNotificationConfiguration": "GetBucketNotification",
              "PutBucketNotificationConfiguration": "PutBucketNotification",
              "GetBucketInventoryConfiguration": "GetInventoryConfiguration",
              "ListBucketInventoryConfigurations": "GetInventoryConfiguration",
              "PutBucketInventoryConfiguration": "PutInventoryConfiguration",
              "GetBucketEncryption": "GetEncryptionConfiguration",
              "PutBucketEncryption": "PutEncryptionConfiguration",
              "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
              "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
              "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
              "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
              "DeleteBucketLifecycle": "PutLifecycleConfiguration",
              "GetBucketOwnershipControls": "GetBucketOwnershipControls",
              "PutBucketOwnershipControls": "PutBucketOwnershipControls", "GetBucketAcl": "GetBucketAcl",
              "PutBucketAcl": "PutBucketAcl", "GetBucketReplication": "GetReplicationConfiguration",
              "PutBucketReplication": "PutReplicationConfiguration", "GetBucketLogging": "GetBucketLogging",
              "GetBucketCors": "GetBucketCORS", "PutBucketCors": "PutBucketCORS"}


def _s3_common(request: _Request, bucket: str) -> tuple[str, dict[str, Any]]:
    owner = moto_state.bucket_account(bucket) or request.account
    return owner, {"s3:ResourceAccount": owner, "s3:TlsVersion": "1.3", "s3:authType": "REST-HEADER",
                   "s3:signatureversion": "AWS4-HMAC-SHA256"}


def _lock_context(mode: str | None, until: str | None, hold: str | None) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if mode:
        context["s3:object-lock-mode"] = mode
    if until:
        context["s3:object-lock-retain-until-date"] = until
        try:
            moment = datetime.fromisoformat(until.replace("Z", "+00:00"))
            days = (moment - datetime.now(UTC)).total_seconds() / 86400
            context["s3:object-lock-remaining-retention-days"] = str(max(0, math.ceil(days)))
        except ValueError:
            pass
    if hold:
        context["s3:object-lock-legal-hold"] = hold
    return context


def _xml_text(body: bytes, tag: str) -> str | None:
    """The text of the first element named `tag` (any namespace) of an XML request body."""
    root = ElementTree.fromstring(body)
    return next((element.text or "" for element in root.iter() if element.tag.rsplit("}", 1)[-1] == tag), None)


def _copy_source(request: _Request) -> tuple[str, str, str | None] | None:
    source = request.header("x-amz-copy-source")
    if not source:
        return None
    path, _, query = unquote(source).lstrip("/").partition("?")
    bucket, _, key = path.partition("/")
    version = parse_qs(query).get("versionId", [None])[0]
    return bucket, key, version


def _s3(request: _Request) -> list[Authorisation]:
    call = request.call
    operation = call.operation
    bucket, key = call.bucket_and_key
    if operation == "ListBuckets":
        return [Authorisation("s3:ListAllMyBuckets", "*", request.account)]
    if not bucket:
        raise Unmapped(f"s3.{operation}: no bucket in {call.url}")
    owner, common = _s3_common(request, bucket)
    policy = moto_state.bucket_policy(bucket)
    query = request.query()
    if operation in _S3_BUCKET:
        context = dict(common)
        for name, parameter in (("s3:prefix", "prefix"), ("s3:delimiter", "delimiter"), ("s3:max-keys", "max-keys")):
            if parameter in query:
                context[name] = query[parameter]
        bucket_level = [Authorisation(f"s3:{_S3_BUCKET[operation]}", f"arn:{_PARTITION}:s3:::{bucket}", owner,
                                      context, policy)]
        if operation == "CreateBucket" and (request.header("x-amz-bucket-object-lock-enabled") or "").lower() == "true":
            bucket_level += [Authorisation(f"s3:{action}", f"arn:{_PARTITION}:s3:::{bucket}", owner, dict(common),
                                           policy) for action in ("PutBucketObjectLockConfiguration",
                                                                  "PutBucketVersioning")]
        return bucket_level
    if operation == "DeleteObjects":
        return _s3_delete_objects(request, bucket, owner, common, policy)
    if operation not in _S3_OBJECT or key is None:
        raise Unmapped(f"s3.{operation}")
    version = query.get("versionId")
    action = _S3_VERSIONED.get(operation, _S3_OBJECT[operation]) if version else _S3_OBJECT[operation]
    resource = f"arn:{_PARTITION}:s3:::{bucket}/{key}"
    context = dict(common)
    if version:
        context["s3:versionid"] = version
    found: list[Authorisation] = []
    writes = action == "PutObject" and operation in ("PutObject", "CopyObject", "CreateMultipartUpload")
    if writes:
        for name in ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-acl",
                     "x-amz-storage-class", "x-amz-metadata-directive", "x-amz-copy-source"):
            value = request.header(name)
            if value:
                context[f"s3:{name}"] = value
        lock = _lock_context(request.header("x-amz-object-lock-mode"),
                             request.header("x-amz-object-lock-retain-until-date"),
                             request.header("x-amz-object-lock-legal-hold"))
        context.update(lock)
        # Object Lock headers on a write need the rights of the separate calls they stand for (as in S3).
        if "s3:object-lock-mode" in lock or "s3:object-lock-retain-until-date" in lock:
            found.append(Authorisation("s3:PutObjectRetention", resource, owner, {**common, **lock}, policy))
        if "s3:object-lock-legal-hold" in lock:
            found.append(Authorisation("s3:PutObjectLegalHold", resource, owner, {**common, **lock}, policy))
        if request.header("x-amz-tagging"):  # tags given with the write (CopyObject: REPLACE)
            found.append(Authorisation("s3:PutObjectTagging", resource, owner, dict(common), policy))
    if operation == "PutObjectRetention":
        context.update(_lock_context(_xml_text(call.body, "Mode"), _xml_text(call.body, "RetainUntilDate"), None))
    if operation == "PutObjectLegalHold":
        context.update(_lock_context(None, None, _xml_text(call.body, "Status")))
    if operation in ("PutObjectRetention", "DeleteObject") and \
            (request.header("x-amz-bypass-governance-retention") or "").lower() == "true":
        found.append(Authorisation("s3:BypassGovernanceRetention", resource, owner, dict(common), policy))
    found.insert(0, Authorisation(f"s3:{action}", resource, owner, context, policy))
    source = _copy_source(request) if operation in ("CopyObject", "UploadPartCopy") else None
    if source is not None:
        source_bucket, source_key, source_version = source
        source_owner, source_common = _s3_common(request, source_bucket)
        source_policy = moto_state.bucket_policy(source_bucket)
        source_arn = f"arn:{_PARTITION}:s3:::{source_bucket}/{source_key}"
        read = "GetObjectVersion" if source_version else "GetObject"
        found.append(Authorisation(f"s3:{read}", source_arn, source_owner, source_common, source_policy))
    return found


def _s3_delete_objects(request: _Request, bucket: str, owner: str, common: dict[str, Any],
                       policy: dict[str, Any] | None) -> list[Authorisation]:
    root = ElementTree.fromstring(request.call.body)
    found: list[Authorisation] = []
    bypass = (request.header("x-amz-bypass-governance-retention") or "").lower() == "true"
    for element in root:
        if element.tag.rsplit("}", 1)[-1] != "Object":
            continue
        fields = {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in element}
        resource = f"arn:{_PARTITION}:s3:::{bucket}/{fields.get('Key', '')}"
        action = "DeleteObjectVersion" if fields.get("VersionId") else "DeleteObject"
        found.append(Authorisation(f"s3:{action}", resource, owner, dict(common), policy))
        if bypass:
            found.append(Authorisation("s3:BypassGovernanceRetention", resource, owner, dict(common), policy))
    return found


# -- DynamoDB -----------------------------------------------------------------------------------------
def _ddb_table_arn(request: _Request, name: str, index: str | None = None) -> tuple[str, str, str, str]:
    """(ARN, table name, account, region) of a table named by name or ARN."""
    if name.startswith("arn:"):
        parts = name.split(":")
        region, account, table = parts[3], parts[4], parts[5].split("/", 1)[1].split("/")[0]
    else:
        region, account, table = request.region, request.account, name
    arn = f"arn:{_PARTITION}:dynamodb:{region}:{account}:table/{table}" + (f"/index/{index}" if index else "")
    return arn, table, account, region


def _key_value(value: Any) -> str:
    if isinstance(value, dict) and value:
        kind, raw = next(iter(value.items()))
        return str(raw) if kind in ("S", "N", "B") else json.dumps(raw)
    return str(value)


def _leading_keys(request: _Request, table: str, items: Iterable[dict[str, Any]], account: str,
                  region: str) -> list[str]:
    hash_key, _ = moto_state.table_hash_keys(table, account, region)
    if hash_key is None:
        return []
    return sorted({_key_value(item[hash_key]) for item in items if hash_key in item})


def _ddb_item(request: _Request, action: str, body: dict[str, Any],
              enclosing: str | None = None) -> Authorisation:
    arn, table, account, region = _ddb_table_arn(request, str(body.get("TableName", "")))
    item = body.get("Key") or body.get("Item") or {}
    context: dict[str, Any] = {}
    keys = _leading_keys(request, table, [item], account, region)
    if keys:
        context["dynamodb:LeadingKeys"] = keys
    if enclosing:
        context["dynamodb:EnclosingOperation"] = enclosing
    return Authorisation(f"dynamodb:{action}", arn, account, context)


_QUERY_HASH = re.compile(r"(#?[\w.-]+)\s*=\s*(:[\w-]+)")


def _ddb_query(request: _Request, body: dict[str, Any]) -> Authorisation:
    index = body.get("IndexName")
    arn, table, account, region = _ddb_table_arn(request, str(body.get("TableName", "")), index)
    hash_key, indexes = moto_state.table_hash_keys(table, account, region)
    partition = indexes.get(str(index)) if index else hash_key
    context: dict[str, Any] = {}
    names = body.get("ExpressionAttributeNames") or {}
    for name, placeholder in _QUERY_HASH.findall(str(body.get("KeyConditionExpression", ""))):
        if names.get(name, name) == partition and placeholder in (body.get("ExpressionAttributeValues") or {}):
            context["dynamodb:LeadingKeys"] = [_key_value(body["ExpressionAttributeValues"][placeholder])]
            break
    return Authorisation("dynamodb:Query", arn, account, context)


_DDB_TABLE_OPS = {"DescribeTable", "CreateTable", "DeleteTable", "UpdateTable", "CreateBackup", "Scan",
                  "DescribeContinuousBackups", "UpdateContinuousBackups", "DescribeTimeToLive", "UpdateTimeToLive"}
_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem",
             "Get": "GetItem"}


def _dynamodb(request: _Request) -> list[Authorisation]:
    operation, body = request.call.operation, request.json()
    if operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
        return [_ddb_item(request, operation, body)]
    if operation == "Query":
        return [_ddb_query(request, body)]
    if operation in _DDB_TABLE_OPS:
        arn, _, account, _ = _ddb_table_arn(request, str(body.get("TableName", "")), body.get("IndexName"))
        return [Authorisation(f"dynamodb:{operation}", arn, account)]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        found = []
        for entry in body.get("TransactItems", []):
            for kind, action_body in entry.items():
                found.append(_ddb_item(request, _TRANSACT[kind], action_body, operation))
        return found
    if operation in ("BatchGetItem", "BatchWriteItem"):
        found = []
        for name, requests in (body.get("RequestItems") or {}).items():
            arn, table, account, region = _ddb_table_arn(request, name)
            if operation == "BatchGetItem":
                items = list(requests.get("Keys", []))
            else:
                items = [next(iter(r.values())).get("Item") or next(iter(r.values())).get("Key") or {}
                         for r in requests]
            keys = _leading_keys(request, table, items, account, region)
            found.append(Authorisation(f"dynamodb:{operation}", arn, account,
                                       {"dynamodb:LeadingKeys": keys} if keys else {}))
        return found
    if operation in ("ListTagsOfResource", "TagResource", "UntagResource"):
        arn = str(body.get("ResourceArn", ""))
        tags = {t["Key"]: t["Value"] for t in body.get("Tags", [])}
        context = _tag_context(tags) if operation == "TagResource" else {}
        if operation == "UntagResource":
            context = {"aws:TagKeys": sorted(body.get("TagKeys", []))}
        return [Authorisation(f"dynamodb:{operation}", arn, arn.split(":")[4], context)]
    if operation in ("DescribeBackup", "DeleteBackup"):
        arn = str(body.get("BackupArn", ""))
        return [Authorisation(f"dynamodb:{operation}", arn, arn.split(":")[4])]
    if operation == "RestoreTableFromBackup":
        arn, _, account, _ = _ddb_table_arn(request, str(body.get("TargetTableName", "")))
        backup = str(body.get("BackupArn", ""))
        return [Authorisation("dynamodb:RestoreTableFromBackup", arn, account),
                Authorisation("dynamodb:RestoreTableFromBackup", backup, backup.split(":")[4])]
    if operation == "RestoreTableToPointInTime":
        source = str(body.get("SourceTableArn") or body.get("SourceTableName") or "")
        source_arn, _, source_account, _ = _ddb_table_arn(request, source)
        arn, _, account, _ = _ddb_table_arn(request, str(body.get("TargetTableName", "")))
        return [Authorisation("dynamodb:RestoreTableToPointInTime", source_arn, source_account),
                Authorisation("dynamodb:RestoreTableToPointInTime", arn, account)]
    if operation == "ExportTableToPointInTime":
        arn = str(body.get("TableArn", ""))
        return [Authorisation("dynamodb:ExportTableToPointInTime", arn, arn.split(":")[4])]
    if operation in ("DescribeExport", "DescribeImport"):
        arn = str(body.get("ExportArn") or body.get("ImportArn") or "")
        return [Authorisation(f"dynamodb:{operation}", arn, arn.split(":")[4])]
    if operation == "ImportTable":
        name = str((body.get("TableCreationParameters") or {}).get("TableName", ""))
        arn, _, account, _ = _ddb_table_arn(request, name)
        return [Authorisation("dynamodb:ImportTable", arn, account)]
    if operation in ("ListBackups", "ListTables", "ListExports", "ListImports", "DescribeLimits"):
        return [Authorisation(f"dynamodb:{operation}", "*", request.account)]
    raise Unmapped(f"dynamodb.{operation}")


# -- KMS ----------------------------------------------------------------------------------------------
_KMS_KEY_OPS = {"DescribeKey", "GetKeyPolicy", "PutKeyPolicy", "DisableKey", "EnableKey", "ScheduleKeyDeletion",
                "CancelKeyDeletion", "Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
                "GenerateDataKeyPair", "ListGrants", "RevokeGrant", "RetireGrant", "ListResourceTags",
                "EnableKeyRotation", "DisableKeyRotation", "GetKeyRotationStatus", "UpdateKeyDescription",
                "GetPublicKey", "Sign", "Verify", "CreateGrant", "TagResource", "UntagResource",
                "ListKeyPolicies", "ReplicateKey"}


def _kms_key(request: _Request, key_id: str, action: str, context: dict[str, Any] | None = None) -> Authorisation:
    facts = moto_state.key_facts(key_id, request.account, request.region)
    if facts is None:  # no such key: AWS answers NotFound after authorising against the ARN as named
        arn = key_id if key_id.startswith("arn:") else request.arn("kms", f"key/{key_id}")
        return Authorisation(action, arn, arn.split(":")[4], dict(context or {}))
    full = {"kms:CallerAccount": request.account, **_resource_tags(facts.tags), **(context or {})}
    if facts.aliases:
        full["kms:ResourceAliases"] = list(facts.aliases)
    return Authorisation(action, facts.arn, facts.account, full, facts.policy)


def _kms(request: _Request) -> list[Authorisation]:
    operation, body = request.call.operation, request.json()
    if operation in ("CreateKey", "ListKeys", "ListAliases", "GenerateRandom"):
        tags = {t["TagKey"]: t["TagValue"] for t in body.get("Tags", [])} if operation == "CreateKey" else {}
        return [Authorisation(f"kms:{operation}", "*", request.account, _tag_context(tags))]
    if operation == "ReEncrypt":
        return [_kms_key(request, str(body.get("SourceKeyId", "")), "kms:ReEncryptFrom"),
                _kms_key(request, str(body.get("DestinationKeyId", "")), "kms:ReEncryptTo")]
    if operation in ("CreateAlias", "DeleteAlias", "UpdateAlias"):
        alias = str(body.get("AliasName", ""))
        alias_arn = request.arn("kms", alias)
        found = [Authorisation(f"kms:{operation}", alias_arn, request.account)]
        target = body.get("TargetKeyId")
        if target is None:
            facts = moto_state.key_facts(alias, request.account, request.region)
            target = facts.arn if facts else None
        if target:
            found.append(_kms_key(request, str(target), f"kms:{operation}"))
        return found
    if operation not in _KMS_KEY_OPS or not body.get("KeyId"):
        raise Unmapped(f"kms.{operation}")
    context: dict[str, Any] = {}
    if operation == "CreateGrant":
        context = {"kms:GrantOperations": list(body.get("Operations", [])), "kms:GrantIsForAWSResource": "false"}
        for name, parameter in (("kms:GranteePrincipal", "GranteePrincipal"),
                                ("kms:RetiringPrincipal", "RetiringPrincipal")):
            if body.get(parameter):
                context[name] = body[parameter]
    if operation == "TagResource":
        context = _tag_context({t["TagKey"]: t["TagValue"] for t in body.get("Tags", [])})
    if operation == "UntagResource":
        context = {"aws:TagKeys": sorted(body.get("TagKeys", []))}
    if operation == "ScheduleKeyDeletion" and body.get("PendingWindowInDays"):
        context["kms:ScheduleKeyDeletionPendingWindowInDays"] = str(body["PendingWindowInDays"])
    return [_kms_key(request, str(body["KeyId"]), f"kms:{operation}", context)]


# -- SNS ----------------------------------------------------------------------------------------------
def _sns(request: _Request) -> list[Authorisation]:
    """Publish only (the notifier's one call): sns:Publish on the topic, by the principal's identity policies (the
    topic's own policy, which admits EventBridge and CloudWatch, names no role: it grants nothing here)."""
    operation, form = request.call.operation, request.form()
    if operation != "Publish":
        raise Unmapped(f"sns.{operation}")
    topic = form.get("TopicArn", "")
    return [Authorisation("sns:Publish", topic, topic.split(":")[4] if topic.count(":") >= 5 else request.account)]


# -- STS ----------------------------------------------------------------------------------------------
def _sts(request: _Request) -> list[Authorisation]:
    operation, form = request.call.operation, request.form()
    if operation == "GetCallerIdentity":
        return []  # no authorisation: anyone may ask who they are
    if operation != "AssumeRole":
        raise Unmapped(f"sts.{operation}")
    role = form.get("RoleArn", "")
    context: dict[str, Any] = {"sts:RoleSessionName": form.get("RoleSessionName", "")}
    if form.get("ExternalId"):
        context["sts:ExternalId"] = form["ExternalId"]
    tags = {m["Key"]: m["Value"] for m in _members(form, "Tags.member")}
    found = [Authorisation("sts:AssumeRole", role, role.split(":")[4], {**context, **_tag_context(tags)},
                           moto_state.role_trust_policy(role) or {"Version": "2012-10-17", "Statement": []})]
    if tags:
        found.append(Authorisation("sts:TagSession", role, role.split(":")[4], _tag_context(tags),
                                   found[0].resource_policy))
    return found


# -- EventBridge --------------------------------------------------------------------------------------
def _bus(request: _Request, name_or_arn: str | None) -> tuple[str, str, str, str]:
    """(ARN, name, account, region) of an event bus named by name or ARN (default: the default bus)."""
    value = name_or_arn or "default"
    if value.startswith("arn:"):
        parts = value.split(":")
        return value, parts[5].split("/", 1)[1], parts[4], parts[3]
    return request.arn("events", f"event-bus/{value}"), value, request.account, request.region


def _events(request: _Request) -> list[Authorisation]:
    operation, body = request.call.operation, request.json()
    if operation == "PutEvents":
        found = []
        for entry in body.get("Entries", []):
            arn, name, account, region = _bus(request, entry.get("EventBusName"))
            context = {"events:source": [str(entry.get("Source", ""))],
                       "events:detail-type": [str(entry.get("DetailType", ""))]}
            found.append(Authorisation("events:PutEvents", arn, account, context,
                                       moto_state.bus_policy(name, account, region)))
        return found
    if operation in ("PutRule", "DeleteRule", "DescribeRule", "EnableRule", "DisableRule", "PutTargets",
                     "RemoveTargets", "ListTargetsByRule"):
        _, bus, account, region = _bus(request, body.get("EventBusName"))
        rule = str(body.get("Name") or body.get("Rule") or "")
        path = f"rule/{rule}" if bus == "default" else f"rule/{bus}/{rule}"
        return [Authorisation(f"events:{operation}", request.arn("events", path, region, account), account)]
    if operation in ("DescribeEventBus", "PutPermission", "RemovePermission", "DeleteEventBus", "CreateEventBus"):
        arn, _, account, _ = _bus(request, body.get("Name") or body.get("EventBusName"))
        return [Authorisation(f"events:{operation}", arn, account)]
    if operation in ("ListRules", "ListEventBuses"):
        return [Authorisation(f"events:{operation}", "*", request.account)]
    raise Unmapped(f"events.{operation}")


# -- Step Functions -----------------------------------------------------------------------------------
_SFN_ARN_PARAMETER = {"StartExecution": "stateMachineArn", "StartSyncExecution": "stateMachineArn",
                      "DescribeStateMachine": "stateMachineArn", "ListExecutions": "stateMachineArn",
                      "DescribeExecution": "executionArn", "StopExecution": "executionArn",
                      "GetExecutionHistory": "executionArn", "RedriveExecution": "executionArn",
                      "ListMapRuns": "executionArn", "DescribeMapRun": "mapRunArn",
                      "DescribeStateMachineForExecution": "executionArn"}


def _sfn(request: _Request) -> list[Authorisation]:
    operation, body = request.call.operation, request.json()
    if operation in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "ListStateMachines",
                     "ListActivities"):
        return [Authorisation(f"states:{operation}", "*", request.account)]
    if operation in _SFN_ARN_PARAMETER:
        arn = str(body.get(_SFN_ARN_PARAMETER[operation], ""))
        return [Authorisation(f"states:{operation}", arn, arn.split(":")[4] if arn.count(":") > 4 else request.account)]
    raise Unmapped(f"sfn.{operation}")


# -- Lambda -------------------------------------------------------------------------------------------
_LAMBDA_PATH = re.compile(r"/2015-03-31/functions/([^/]+)(/invocations|/configuration|/policy)?/?$")


def _lambda(request: _Request) -> list[Authorisation]:
    operation = request.call.operation
    if operation == "ListFunctions":
        return [Authorisation("lambda:ListFunctions", "*", request.account)]
    match = _LAMBDA_PATH.search(unquote(urlsplit(request.call.url).path))
    if match is None:
        raise Unmapped(f"lambda.{operation}")
    name = match.group(1)
    arn = name if name.startswith("arn:") else request.arn("lambda", f"function:{name}")
    action = {"Invoke": "InvokeFunction"}.get(operation, operation)
    return [Authorisation(f"lambda:{action}", arn, arn.split(":")[4])]


# -- CloudFormation, tagging --------------------------------------------------------------------------
def _cloudformation(request: _Request) -> list[Authorisation]:
    operation, form = request.call.operation, request.form()
    if operation not in ("DescribeStacks", "DescribeStackResources", "ListStackResources", "GetTemplate",
                         "DescribeStackResource"):
        raise Unmapped(f"cloudformation.{operation}")
    name = form.get("StackName")
    if not name:
        return [Authorisation(f"cloudformation:{operation}", "*", request.account)]
    if name.startswith("arn:"):
        return [Authorisation(f"cloudformation:{operation}", name, name.split(":")[4])]
    from moto.cloudformation.models import cloudformation_backends

    try:
        arn = str(cloudformation_backends[request.account][request.region].get_stack(name).stack_id)
    except Exception:
        arn = request.arn("cloudformation", f"stack/{name}/00000000-0000-0000-0000-000000000000")
    return [Authorisation(f"cloudformation:{operation}", arn, request.account)]


def _tagging(request: _Request) -> list[Authorisation]:
    if request.call.operation != "GetResources":
        raise Unmapped(f"resource-groups-tagging-api.{request.call.operation}")
    return [Authorisation("tag:GetResources", "*", request.account)]


# -- EC2 ----------------------------------------------------------------------------------------------
def _ec2_arn(request: _Request, kind: str, resource_id: str, region: str | None = None) -> str:
    owned = "" if kind in ("snapshot", "image") else request.account  # snapshots and AMIs: no account in the ARN
    return f"arn:{_PARTITION}:ec2:{region or request.region}:{owned}:{kind}/{resource_id}"


def _ec2_existing(request: _Request, action: str, kind: str, resource_id: str,
                  region: str | None = None) -> Authorisation:
    tags = moto_state.ec2_tags(resource_id, request.account, region or request.region)
    return Authorisation(action, _ec2_arn(request, kind, resource_id, region), request.account, _resource_tags(tags))


def _ec2_tag_specifications(form: dict[str, str]) -> dict[str, dict[str, str]]:
    """TagSpecification.N.ResourceType -> its tags."""
    found: dict[str, dict[str, str]] = {}
    for spec in _members(form, "TagSpecification"):
        kind = spec.get("ResourceType", "")
        tags = {}
        for name, value in spec.items():
            match = re.match(r"Tag\.(\d+)\.Key$", name)
            if match:
                tags[value] = spec.get(f"Tag.{match.group(1)}.Value", "")
        found.setdefault(kind, {}).update(tags)
    return found


def _ec2_created(request: _Request, action: str, kind: str, form: dict[str, str], placeholder: str,
                 region: str | None = None) -> list[Authorisation]:
    """The new resource of a Create/Copy call (its id not known yet), and CreateTags for tags given with it."""
    tags = _ec2_tag_specifications(form).get(kind, {})
    arn = _ec2_arn(request, kind, placeholder, region)
    found = [Authorisation(action, arn, request.account, _tag_context(tags))]
    if tags:
        found.append(Authorisation("ec2:CreateTags", arn, request.account,
                                   {"ec2:CreateAction": action.split(":", 1)[1], **_tag_context(tags)}))
    return found


def _ec2(request: _Request) -> list[Authorisation]:
    operation, form = request.call.operation, request.form()
    action = f"ec2:{operation}"
    if operation.startswith("Describe"):
        return [Authorisation(action, "*", request.account)]
    if operation == "CreateSnapshot":
        return [_ec2_existing(request, action, "volume", form.get("VolumeId", "")),
                *_ec2_created(request, action, "snapshot", form, "snap-00000000000000000")]
    if operation == "CreateVolume":
        found = [_ec2_existing(request, action, "snapshot", form["SnapshotId"])] if form.get("SnapshotId") else []
        return [*found, *_ec2_created(request, action, "volume", form, "vol-00000000000000000")]
    if operation == "CopySnapshot":
        source_region = form.get("SourceRegion") or request.region
        return [_ec2_existing(request, action, "snapshot", form.get("SourceSnapshotId", ""), source_region),
                *_ec2_created(request, action, "snapshot", form, "snap-00000000000000000")]
    if operation == "CreateImage":
        return [_ec2_existing(request, action, "instance", form.get("InstanceId", "")),
                *_ec2_created(request, action, "image", form, "ami-00000000000000000"),
                *_ec2_created(request, action, "snapshot", form, "snap-00000000000000000")]
    if operation == "CopyImage":
        source_region = form.get("SourceRegion") or request.region
        return [_ec2_existing(request, action, "image", form.get("SourceImageId", ""), source_region),
                *_ec2_created(request, action, "image", form, "ami-00000000000000000")]
    if operation in ("DeleteSnapshot", "ModifySnapshotTier", "RestoreSnapshotTier", "ModifySnapshotAttribute",
                     "ResetSnapshotAttribute"):
        return [_ec2_existing(request, action, "snapshot", form.get("SnapshotId", ""))]
    if operation in ("DeregisterImage", "ModifyImageAttribute", "ResetImageAttribute"):
        return [_ec2_existing(request, action, "image", form.get("ImageId", ""))]
    if operation in ("DeleteVolume", "AttachVolume", "DetachVolume"):
        return [_ec2_existing(request, action, "volume", form.get("VolumeId", ""))]
    if operation in ("TerminateInstances", "StopInstances", "StartInstances"):
        ids = [value for name, value in form.items() if name.startswith("InstanceId.")]
        return [_ec2_existing(request, action, "instance", i) for i in ids]
    if operation == "CreateTags":
        tags = {m["Key"]: m.get("Value", "") for m in _members(form, "Tag")}
        found = []
        for name, value in form.items():
            if name.startswith("ResourceId."):
                kind = {"snap": "snapshot", "ami": "image", "vol": "volume", "i": "instance"}.get(
                    value.split("-", 1)[0], "unknown")
                found.append(Authorisation(action, _ec2_arn(request, kind, value), request.account,
                                           {**_resource_tags(moto_state.ec2_tags(value, request.account,
                                                                                 request.region)),
                                            **_tag_context(tags)}))
        return found
    if operation == "RunInstances":
        found = [_ec2_existing(request, action, "image", form.get("ImageId", ""))]
        found += _ec2_created(request, action, "instance", form, "i-00000000000000000")
        found += _ec2_created(request, action, "volume", form, "vol-00000000000000000")
        return found
    raise Unmapped(f"ec2.{operation}")


# -- RDS ----------------------------------------------------------------------------------------------
_RDS_KINDS = {"DBInstanceIdentifier": "db", "DBClusterIdentifier": "cluster", "DBSnapshotIdentifier": "snapshot",
              "DBClusterSnapshotIdentifier": "cluster-snapshot", "TargetDBSnapshotIdentifier": "snapshot",
              "TargetDBClusterSnapshotIdentifier": "cluster-snapshot",
              "SourceDBSnapshotIdentifier": "snapshot", "SourceDBClusterSnapshotIdentifier": "cluster-snapshot",
              "SourceDBInstanceIdentifier": "db", "TargetDBInstanceIdentifier": "db", "SnapshotIdentifier": "snapshot"}


def _rds_resource(request: _Request, action: str, kind: str, identifier: str,
                  tags: dict[str, str] | None = None) -> Authorisation:
    arn = identifier if identifier.startswith("arn:") else request.arn("rds", f"{kind}:{identifier}")
    existing = moto_state.rds_tags(arn, arn.split(":")[4], arn.split(":")[3])
    return Authorisation(action, arn, arn.split(":")[4], {**_resource_tags(existing), **_tag_context(tags or {})})


def _rds(request: _Request) -> list[Authorisation]:
    operation, form = request.call.operation, request.form()
    action = f"rds:{operation}"
    tags = {m["Key"]: m.get("Value", "") for m in _members(form, "Tags.Tag")}
    if operation in ("AddTagsToResource", "ListTagsForResource", "RemoveTagsFromResource"):
        return [_rds_resource(request, action, "", form.get("ResourceName", ""), tags)]
    if operation == "RestoreDBClusterFromSnapshot":
        return [_rds_resource(request, action, "cluster", form.get("DBClusterIdentifier", ""), tags),
                _rds_resource(request, action, "cluster-snapshot", form.get("SnapshotIdentifier", ""))]
    found = [_rds_resource(request, action, kind, form[name], tags)
             for name, kind in _RDS_KINDS.items() if form.get(name)]
    if found:
        return found
    if operation.startswith("Describe"):
        kind = {"DescribeDBInstances": "db", "DescribeDBClusters": "cluster", "DescribeDBSnapshots": "snapshot",
                "DescribeDBClusterSnapshots": "cluster-snapshot"}.get(operation)
        if kind:
            return [Authorisation(action, request.arn("rds", f"{kind}:*"), request.account)]
    raise Unmapped(f"rds.{operation}")


_SERVICES: dict[str, Callable[[_Request], list[Authorisation]]] = {
    "s3": _s3, "dynamodb": _dynamodb, "kms": _kms, "sts": _sts, "eventbridge": _events, "events": _events,
    "sfn": _sfn, "lambda": _lambda, "cloudformation": _cloudformation, "resource-groups-tagging-api": _tagging,
    "ec2": _ec2, "rds": _rds, "sns": _sns,
}


def authorisations(call: AwsCall, principal: Principal, region: str) -> list[Authorisation]:
    """The IAM authorisations AWS makes for `call`, made by `principal` (in its account) in `region`."""
    handler = _SERVICES.get(call.service)
    if handler is None:
        raise Unmapped(f"{call.service}.{call.operation}")
    request = _Request(call=call, principal=principal, region=region, account=principal.account)
    found = handler(request)
    now = datetime.now(UTC)
    common = {"aws:PrincipalArn": principal.role_arn, "aws:PrincipalAccount": principal.account,
              "aws:PrincipalType": "AssumedRole", "aws:SecureTransport": "true", "aws:RequestedRegion": region,
              "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "aws:EpochTime": str(int(now.timestamp())),
              "aws:ViaAWSService": "false",
              **{f"aws:PrincipalTag/{key}": value for key, value in principal.tags}}
    for authorisation in found:
        authorisation.context = {**common, **authorisation.context}
    return found
