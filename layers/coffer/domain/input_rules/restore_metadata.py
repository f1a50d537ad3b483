"""Restore metadata, per resource type: the keys AWS Backup's StartRestoreJob takes for each type, each value
checked before a job exists, so an invalid restore never makes a job that fails later.

Metadata is a map of strings in AWS Backup's API: booleans are "true" or "false", numbers are digits.
A key the type does not take is refused by name (a misspelt override silently ignored would restore something
other than what was asked for). S3's DestinationPrefix is checked as a prefix here (S3 keys are at most 1,024
bytes, so a prefix of 1,024 bytes or more leaves no room for any key); whether each restored key fits under it
is decided key by key when it is written.

Restores never take over: an S3 restore creates its bucket unless NewBucket is "false", and then writes only into
a bucket whose versioning is Enabled (as AWS Backup requires), so every object it overwrites keeps its previous
version (`restore_bucket_problem`, checked against the bucket before the job exists).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from coffer.domain.input_rules.arns import (
    MAX_ARN_CHARACTERS,
    Home,
    bucket_name_problem,
    db_identifier_problem,
    region_problem,
    table_name_problem,
)
from coffer.domain.input_rules.scalars import flag_string_problem, number_string_problem
from coffer.domain.input_rules.text import member, problem
from coffer.domain.resources import ResourceType

#: S3's limit on an object key, in UTF-8 bytes
MAX_KEY_BYTES = 1024
EBS_VOLUME_TYPES = ("gp2", "gp3", "io1", "io2", "sc1", "st1", "standard")
_AZ = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}(-[a-z]+-\d)?[a-z]$")
_SUBNET = re.compile(r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$")
_SECURITY_GROUP = re.compile(r"^sg-([0-9a-f]{8}|[0-9a-f]{17})$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
_DB_CLASS = re.compile(r"^db\.[a-z0-9-]+\.[a-z0-9-]+$")
_SUBNET_GROUP = re.compile(r"^[a-zA-Z0-9._ -]{1,255}$")
_KMS_KEY = re.compile(r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_+=,.@-]{1,256}"
                      r"|alias/[A-Za-z0-9/_-]{1,256}|(mrk-)?[0-9a-f]{32}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12})$")
_KEY_NAME = re.compile(r"^[\x20-\x7e]{1,255}$")

#: (path, value, the stack, the whole metadata) -> the problem, if any
Check = Callable[[str, str, Home, Mapping[str, str]], "str | None"]


@dataclass(frozen=True)
class Key:
    check: Check
    required: bool = False


def _bucket(path: str, value: str, home: Home, metadata: Mapping[str, str]) -> str | None:
    if value in home.own_buckets:
        return problem(path, value, "is one of this Coffer stack's own buckets (its vault or work bucket)",
                       "restore into a bucket of your own")
    # a new bucket follows today's naming rules; an existing one may predate them
    return bucket_name_problem(path, value, existing=not new_bucket_wanted(metadata))


def _prefix(path: str, value: str, home: Home, metadata: Mapping[str, str]) -> str | None:
    size = len(value.encode("utf-8", "surrogatepass"))
    if size >= MAX_KEY_BYTES:
        return problem(path, value, f"is {size} bytes: S3 keys are at most {MAX_KEY_BYTES} bytes, so no key fits "
                       "under it", "give a shorter prefix")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return problem(path, value, "holds control characters, which S3 lists only URL-encoded",
                       "use printable characters")
    return None


def _table(path: str, value: str, home: Home, metadata: Mapping[str, str]) -> str | None:
    if home.catalog_table and value == home.catalog_table:
        return problem(path, value, "is this Coffer stack's catalog table", "restore into a new table of your own")
    return table_name_problem(path, value)


def _flag(path: str, value: str, home: Home, metadata: Mapping[str, str]) -> str | None:
    return flag_string_problem(path, value)


def _region(path: str, value: str, home: Home, metadata: Mapping[str, str]) -> str | None:
    return region_problem(path, value)


def _number(low: int, high: int, unit: str) -> Check:
    return lambda path, value, home, metadata: number_string_problem(path, value, low, high, unit)


def _pattern(regex: re.Pattern[str], what: str, example: str) -> Check:
    return lambda path, value, home, metadata: None if regex.match(value) else problem(
        path, value, f"is not {what}", f"e.g. {example}")


def _one_of(choices: tuple[str, ...], what: str) -> Check:
    return lambda path, value, home, metadata: None if value in choices else problem(
        path, value, f"is not {what}", f"one of {', '.join(choices)}")


def _ids(regex: re.Pattern[str], what: str, example: str) -> Check:
    def check(path: str, value: str, home: Home, metadata: Mapping[str, str]) -> str | None:
        parts = [part.strip() for part in value.split(",")]
        bad = [part for part in parts if not regex.match(part)]
        if not bad:
            return None
        return problem(path, value, f"is not a comma-separated list of {what}", f"e.g. {example}")

    return check


def _db_id(what: str) -> Check:
    return lambda path, value, home, metadata: db_identifier_problem(path, value, what)


def _kms_key(path: str, value: str, home: Home, metadata: Mapping[str, str]) -> str | None:
    if len(value) > MAX_ARN_CHARACTERS or not _KMS_KEY.match(value):
        return problem(path, value, "is not a KMS key id, key ARN or alias", "e.g. alias/my-key or a key ARN")
    if value.startswith("arn:") and value.split(":", 2)[1] != home.partition:
        return problem(path, value, f"is in another partition than this stack ({home.partition})",
                       "name a key of this partition")
    return None


_PITR = {"RestoreTime": Key(lambda path, value, home, metadata: None), "UseLatestRestorableTime": Key(_flag)}
_SECURITY_GROUPS = _ids(_SECURITY_GROUP, "security group ids", "sg-0123456789abcdef0,sg-0fedcba9876543210")
_SUBNET_GROUP_NAME = _pattern(_SUBNET_GROUP, "a DB subnet group name", "my-subnet-group")

#: a DocumentDB or Neptune cluster snapshot's restore (no point-in-time recovery: continuous.py)
_CLUSTER = {"DBClusterIdentifier": Key(_db_id("DB cluster"), required=True),
            "DBSubnetGroupName": Key(_SUBNET_GROUP_NAME), "VpcSecurityGroupIds": Key(_SECURITY_GROUPS)}
#: the keys each type takes (RestoreTime's format and window are checked against the recovery point's own
#: window by the continuous-backup rules, which know it)
RESTORE_METADATA: Mapping[ResourceType, Mapping[str, Key]] = {
    ResourceType.S3: {"DestinationBucketName": Key(_bucket, required=True), "NewBucket": Key(_flag),
                      "DestinationPrefix": Key(_prefix), "Region": Key(_region), **_PITR},
    ResourceType.DYNAMODB: {"targetTableName": Key(_table, required=True), **_PITR},
    ResourceType.EBS: {"availabilityZone": Key(_pattern(_AZ, "an Availability Zone", "us-east-1a")),
                       "volumeType": Key(_one_of(EBS_VOLUME_TYPES, "an EBS volume type")),
                       "volumeSize": Key(_number(1, 65_536, "GiB")), "iops": Key(_number(100, 256_000, "IOPS")),
                       "throughput": Key(_number(125, 2_000, "MiB/s")), "kmsKeyId": Key(_kms_key)},
    ResourceType.EC2: {"InstanceType": Key(_pattern(_INSTANCE_TYPE, "an instance type", "t3.micro")),
                       "SubnetId": Key(_pattern(_SUBNET, "a subnet id", "subnet-0123456789abcdef0")),
                       "SecurityGroupIds": Key(_SECURITY_GROUPS),
                       "KeyName": Key(_pattern(_KEY_NAME, "a key pair name", "my-key"))},
    ResourceType.RDS: {"DBInstanceIdentifier": Key(_db_id("DB instance"), required=True),
                       "DBInstanceClass": Key(_pattern(_DB_CLASS, "a DB instance class", "db.t3.micro")),
                       "DBSubnetGroupName": Key(_SUBNET_GROUP_NAME), "VpcSecurityGroupIds": Key(_SECURITY_GROUPS),
                       **_PITR},
    ResourceType.AURORA: {"DBClusterIdentifier": Key(_db_id("DB cluster"), required=True),
                          "DBSubnetGroupName": Key(_SUBNET_GROUP_NAME), "VpcSecurityGroupIds": Key(_SECURITY_GROUPS),
                          **_PITR},
    ResourceType.DOCUMENTDB: _CLUSTER,
    ResourceType.NEPTUNE: _CLUSTER,
}


def restore_metadata_problems(metadata: Mapping[str, str], resource_type: ResourceType, home: Home,
                              path: str = "Metadata") -> list[str]:
    keys = RESTORE_METADATA[resource_type]
    problems = [f"{path}.{name}: required to restore a {resource_type.value} recovery point (give it in Metadata)"
                for name, key in keys.items() if key.required and not metadata.get(name)]
    for name, value in metadata.items():
        where = member(path, name)
        key = keys.get(name)
        if key is None:
            problems.append(f"{where}: not a restore key for {resource_type.value} "
                            f"(keys: {', '.join(keys) or 'none'})")
        elif value or not key.required:  # a required key left empty is reported as missing above
            found = key.check(where, value, home, metadata)
            if found:
                problems.append(found)
    if resource_type is ResourceType.S3 and metadata.get("Region") and not new_bucket_wanted(metadata):
        problems.append(problem(f"{path}.Region", metadata["Region"], "applies only to a new bucket",
                                'leave NewBucket out (or "true"), or leave Region out'))

    return problems


def new_bucket_wanted(metadata: Mapping[str, str]) -> bool:
    """Whether an S3 restore creates its bucket: yes unless NewBucket is "false" (a new bucket by default)."""
    return metadata.get("NewBucket", "true").lower() != "false"


#: GetBucketVersioning's Status of a bucket whose versioning was never enabled (S3 answers no Status)
NEVER_VERSIONED = ""


def restore_bucket_problem(metadata: Mapping[str, str], versioning: str | None,
                           path: str = "Metadata.DestinationBucketName") -> str | None:
    """Whether the S3 restore may write into its bucket as it is now (`versioning`: GetBucketVersioning's Status,
    NEVER_VERSIONED, or None when the bucket does not exist). A new bucket must not exist yet (a bucket named by
    NewBucket that exists is someone's: its objects and tags are not the restore's to replace); an existing one must
    keep every version it overwrites."""
    bucket = metadata.get("DestinationBucketName", "")
    if new_bucket_wanted(metadata):
        if versioning is None:
            return None
        return problem(path, bucket, "exists: a restore into a new bucket (NewBucket, the default) never writes into "
                       "a bucket it did not create", 'name a bucket that does not exist, or set NewBucket to "false" '
                       "to restore into this one if its versioning is Enabled")
    if versioning is None:
        return problem(path, bucket, 'does not exist (NewBucket is "false")',
                       'leave NewBucket out (or "true") to create it')
    if versioning != "Enabled":
        state = "never enabled" if versioning == NEVER_VERSIONED else versioning
        return problem(path, bucket, f"has versioning {state}: a restore would overwrite its objects without keeping "
                       "their previous versions", "enable versioning on it (as AWS Backup requires), or restore "
                       "into a new bucket")
    return None


def restored_key_problem(prefix: str, key: str) -> str | None:
    """Why an object cannot be restored under DestinationPrefix: its key there is over S3's 1,024 UTF-8 bytes (that
    object fails by name; S3 would refuse the write, or a shortened key would be another object)."""
    size = len((prefix + key).encode("utf-8", "surrogatepass"))
    if size <= MAX_KEY_BYTES:
        return None
    return (f"KeyTooLong: under DestinationPrefix its key is {size} bytes, S3 keys are at most {MAX_KEY_BYTES} "
            "(restore it with a shorter prefix)")
