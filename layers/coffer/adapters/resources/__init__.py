"""The adapter registry: one module per resource type, one line here. Unknown types are refused by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coffer.adapters.resources.aurora import AuroraAdapter, cluster_engine
from coffer.adapters.resources.documentdb import DocumentDBAdapter
from coffer.adapters.resources.dynamodb import DynamoDBAdapter
from coffer.adapters.resources.ebs import EbsAdapter
from coffer.adapters.resources.ec2 import Ec2Adapter
from coffer.adapters.resources.neptune import NeptuneAdapter
from coffer.adapters.resources.rds import RdsAdapter
from coffer.adapters.resources.s3 import S3Adapter
from coffer.domain.errors import UnsupportedResource
from coffer.domain.resources import DB_CLUSTER_TYPES, ResourceType, cluster_type_of, resource_type_of
from coffer.ports.resources import ResourceAdapter

#: ResourceType -> (boto3 service name, adapter class)
REGISTRY: dict[ResourceType, tuple[str, Callable[[Any], ResourceAdapter]]] = {
    ResourceType.S3: ("s3", S3Adapter),
    ResourceType.DYNAMODB: ("dynamodb", DynamoDBAdapter),
    ResourceType.EBS: ("ec2", EbsAdapter),
    ResourceType.EC2: ("ec2", Ec2Adapter),
    ResourceType.RDS: ("rds", RdsAdapter),
    ResourceType.AURORA: ("rds", AuroraAdapter),
    ResourceType.DOCUMENTDB: ("rds", DocumentDBAdapter),
    ResourceType.NEPTUNE: ("rds", NeptuneAdapter),
}


def adapter_for(resource_type: ResourceType, client_for: Callable[[str], Any]) -> ResourceAdapter:
    try:
        service, factory = REGISTRY[resource_type]
    except KeyError:
        raise UnsupportedResource(
            f"resource type {resource_type} has no adapter yet (supported: {', '.join(REGISTRY)})") from None
    return factory(client_for(service))


class ResourceRegistry:
    """The registered adapters, each made once, on first use, with the client `client_for` gives its service."""

    supported = frozenset(REGISTRY)

    def __init__(self, client_for: Callable[[str], Any]) -> None:
        self._client_for = client_for
        self._made: dict[ResourceType, ResourceAdapter] = {}

    def type_of(self, resource_arn: str) -> ResourceType:
        """The ARN's type; a DB cluster's (Aurora, DocumentDB and Neptune share cluster:<id>) by its engine, one
        DescribeDBClusters. A cluster that is not there keeps the ARN's reading: its backup fails naming it."""
        kind = resource_type_of(resource_arn)
        if kind not in DB_CLUSTER_TYPES:
            return kind
        engine = cluster_engine(self._client_for("rds"), resource_arn)
        return (cluster_type_of(engine) if engine else None) or kind

    def adapter(self, resource_type: ResourceType) -> ResourceAdapter:
        if resource_type not in self._made:
            self._made[resource_type] = adapter_for(resource_type, self._client_for)
        return self._made[resource_type]
