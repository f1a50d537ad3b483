"""What the IAM evaluation needs to know of moto's state: principals behind credentials, the policies attached
to roles, the resource policies of buckets, keys, buses and roles, and the facts conditions look at (a
bucket's owner, a table's key attribute, a resource's tags).

Read at each evaluation, never cached: a test that changes a policy (PutBucketPolicy, PutRolePolicy ...) is
evaluated against the new one at its next call, as in AWS (which is eventually consistent, but never older).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["KeyFacts", "Principal", "account_of_access_key", "assumed_principal", "bucket_account",
           "bucket_policy", "bus_policy", "ec2_tags", "key_facts", "rds_tags", "role_identity_policies",
           "role_trust_policy", "table_hash_keys"]

_PARTITION = "aws"


@dataclass(frozen=True)
class Principal:
    """Who makes a request: an IAM role (through a session), as IAM's request context names it."""

    role_arn: str
    session_name: str = "twin"
    tags: tuple[tuple[str, str], ...] = ()
    """the session tags its AssumeRole set (``aws:PrincipalTag/<key>`` in its requests' context)"""

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4]

    @property
    def session_arn(self) -> str:
        """``arn:aws:sts::<account>:assumed-role/<name>/<session>``: the request's principal."""
        name = self.role_arn.rsplit("/", 1)[-1]
        return f"arn:{_PARTITION}:sts::{self.account}:assumed-role/{name}/{self.session_name}"


def _loads(document: Any) -> dict[str, Any] | None:
    if document in (None, "", b""):
        return None
    if isinstance(document, bytes):
        document = document.decode()
    parsed = json.loads(document) if isinstance(document, str) else document
    return dict(parsed) if isinstance(parsed, dict) else None


# -- principals ----------------------------------------------------------------------------------------
def account_of_access_key(access_key_id: str) -> str | None:
    """The account moto makes an access key act in (temporary keys of assumed roles included)."""
    from moto.iam.models import get_account_id_from

    try:
        return str(get_account_id_from(access_key_id))
    except Exception:
        return None


def assumed_principal(access_key_id: str) -> Principal | None:
    """The role whose session an access key belongs to (moto STS AssumeRole), else None."""
    from moto.sts.models import sts_backends

    account = account_of_access_key(access_key_id)
    if account is None or account not in sts_backends:
        return None
    assumed = sts_backends[account][_PARTITION].get_assumed_role_from_access_key(access_key_id)
    if assumed is None:
        return None
    return Principal(role_arn=str(assumed.role_arn), session_name=str(assumed.session_name))


def _role(role_arn: str) -> Any | None:
    from moto.iam.models import iam_backends

    account = role_arn.split(":")[4]
    try:
        return iam_backends[account][_PARTITION].get_role_by_arn(role_arn)
    except Exception:
        return None


def role_identity_policies(role_arn: str) -> list[dict[str, Any]] | None:
    """The role's inline and attached managed policies as the evaluator takes them; None: no such role."""
    role = _role(role_arn)
    if role is None:
        return None
    policies = [{"name": f"inline:{name}", "policy": _loads(document)} for name, document in role.policies.items()]
    for arn, managed in role.managed_policies.items():
        version = next((v for v in managed.versions if v.is_default), None)
        if version is not None:
            policies.append({"name": f"managed:{arn}", "policy": _loads(version.document)})
    return [p for p in policies if p["policy"] is not None]


def role_trust_policy(role_arn: str) -> dict[str, Any] | None:
    role = _role(role_arn)
    return None if role is None else _loads(role.assume_role_policy_document)


# -- resources -----------------------------------------------------------------------------------------
def bucket_account(bucket: str) -> str | None:
    from moto.s3.models import s3_backends

    found = s3_backends.bucket_accounts.get(bucket)
    return None if found is None else str(found[1])


def bucket_policy(bucket: str) -> dict[str, Any] | None:
    from moto.s3.models import s3_backends

    account = bucket_account(bucket)
    if account is None:
        return None
    try:
        return _loads(s3_backends[account][_PARTITION].get_bucket(bucket).policy)
    except Exception:
        return None


@dataclass(frozen=True)
class KeyFacts:
    arn: str
    account: str
    policy: dict[str, Any] | None
    tags: dict[str, str]
    aliases: tuple[str, ...]


def key_facts(key_id: str, account: str, region: str) -> KeyFacts | None:
    """A KMS key named by id, key ARN, alias name or alias ARN (an ARN names its own account and region)."""
    from moto.kms.models import kms_backends

    if key_id.startswith("arn:"):
        parts = key_id.split(":")
        region, account = parts[3], parts[4]
    try:
        backend = kms_backends[account][region]
        key = backend.describe_key(key_id)
    except Exception:
        return None
    tags = {str(t["TagKey"]): str(t["TagValue"]) for t in backend.tagger.list_tags_for_resource(key.id)["Tags"]}
    return KeyFacts(arn=str(key.arn), account=account, policy=_loads(key.policy), tags=tags,
                    aliases=tuple(str(a) for a in getattr(key, "aliases", {}) or ()))


def bus_policy(name: str, account: str, region: str) -> dict[str, Any] | None:
    from moto.events.models import events_backends

    try:
        return _loads(events_backends[account][region].describe_event_bus(name).policy)
    except Exception:
        return None


def table_hash_keys(table: str, account: str, region: str) -> tuple[str | None, dict[str, str]]:
    """(the table's partition key attribute, index name -> the index's partition key attribute)."""
    from moto.dynamodb.models import dynamodb_backends

    try:
        found = dynamodb_backends[account][region].get_table(table)
    except Exception:
        return None, {}
    indexes: dict[str, str] = {}
    for index in [*getattr(found, "global_indexes", []), *getattr(found, "indexes", [])]:
        hashed = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        if hashed:
            indexes[index.name] = hashed[0]
    return found.hash_key_attr or None, indexes


def ec2_tags(resource_id: str, account: str, region: str) -> dict[str, str]:
    from moto.ec2.models import ec2_backends

    try:
        return dict(ec2_backends[account][region].tags.get(resource_id, {}))
    except Exception:
        return {}


def rds_tags(arn: str, account: str, region: str) -> dict[str, str]:
    from moto.rds.models import rds_backends

    try:
        return {t["Key"]: t["Value"] for t in rds_backends[account][region].list_tags_for_resource(arn)}
    except Exception:
        return {}
