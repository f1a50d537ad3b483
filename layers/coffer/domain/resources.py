"""Resource types and ARNs: which AWS resource a job is about, decided from its ARN alone."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from coffer.domain.errors import InvalidInput, UnsupportedResource


class ResourceType(StrEnum):
    """AWS Backup's resource type names."""

    S3 = "S3"
    DYNAMODB = "DynamoDB"
    EBS = "EBS"
    EC2 = "EC2"
    RDS = "RDS"
    AURORA = "Aurora"
    DOCUMENTDB = "DocumentDB"
    NEPTUNE = "Neptune"


#: The RDS family's cluster types, by engine name prefix. Their ARNs have one form
#: (arn:aws:rds:<region>:<account>:cluster:<id>): the cluster's engine tells them apart, as it does for AWS Backup
#: (`cluster_type_of`). An ARN alone reads as Aurora until the engine is known (`resource_type_of`); the registry
#: resolves it (ResourceAdapters.type_of).
DB_CLUSTER_ENGINES: Mapping[ResourceType, tuple[str, ...]] = {
    ResourceType.AURORA: ("aurora",),  # aurora-mysql, aurora-postgresql (and the old "aurora")
    ResourceType.DOCUMENTDB: ("docdb",),
    ResourceType.NEPTUNE: ("neptune",),
}
DB_CLUSTER_TYPES = frozenset(DB_CLUSTER_ENGINES)


def cluster_type_of(engine: str) -> ResourceType | None:
    """The cluster type of an engine (DescribeDBClusters' Engine), None for one Coffer does not protect (an RDS
    Multi-AZ DB cluster's mysql or postgres)."""
    return next((kind for kind, prefixes in DB_CLUSTER_ENGINES.items() if engine.startswith(prefixes)), None)


class Arn(BaseModel):
    """arn:partition:service:region:account:resource"""

    model_config = ConfigDict(frozen=True)

    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str, field: str = "ResourceArn") -> Arn:
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[2] or not parts[5]:
            rule = "is not an ARN (arn:partition:service:region:account:resource)"
            raise InvalidInput([f"{_named(field)}'{text}' {rule}"])
        return cls(partition=parts[1], service=parts[2], region=parts[3], account=parts[4], resource=parts[5])

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def resource_type_of(arn_text: str, field: str = "ResourceArn") -> ResourceType:
    """Classify an ARN the way AWS Backup does; an ARN of a type Coffer cannot protect is refused by name."""
    arn = Arn.parse(arn_text, field)
    if arn.service == "s3" and "/" not in arn.resource:
        return ResourceType.S3
    if arn.service == "dynamodb" and arn.resource.startswith("table/") and arn.resource.count("/") == 1:
        return ResourceType.DYNAMODB
    if arn.service == "ec2" and arn.resource.startswith("volume/"):
        return ResourceType.EBS
    if arn.service == "ec2" and arn.resource.startswith("instance/"):
        return ResourceType.EC2
    if arn.service == "rds" and arn.resource.startswith("db:"):
        return ResourceType.RDS
    if arn.service == "rds" and arn.resource.startswith("cluster:"):
        return ResourceType.AURORA  # or DocumentDB, Neptune: the engine decides (DB_CLUSTER_ENGINES)
    raise UnsupportedResource(f"{_named(field)}'{arn_text}' is not a resource type Coffer protects "
                              f"({', '.join(t.value for t in ResourceType)})")


def _named(field: str) -> str:
    return f"{field}: " if field else ""


def resource_name(arn_text: str) -> str:
    """The short name inside an ARN: bucket name, table name, volume id, ..."""
    resource = Arn.parse(arn_text).resource
    for sep in ("/", ":"):
        if sep in resource:
            return resource.split(sep, 1)[1]
    return resource


def check_options(options: Mapping[str, str], allowed: Mapping[str, frozenset[str]],
                  resource_type: ResourceType) -> list[str]:
    """Problems with StartBackupJob's BackupOptions for a type that accepts `allowed`, each naming its field."""
    problems = []
    for name, value in options.items():
        if name not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            problems.append(f"BackupOptions.{name}: not an option for {resource_type} (options: {known})")
        elif value not in allowed[name]:
            problems.append(f"BackupOptions.{name}: '{value}' is not one of {', '.join(sorted(allowed[name]))}")
    return problems
