"""The account's resources, for selections: the Resource Groups Tagging API across types, and each supported
type's own listing where tags cannot find a resource (untagged ones).

GetResources is the one call path across resource types: it lists every tagged resource of the region, of
any service, a page at a time. It never lists untagged resources, so a selection whose wildcard ARN pattern
can match untagged resources also reads that type's listing: a cheap paginated List call (:data:`LISTINGS`,
one line per type), or else the type adapter's own discovery.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import TYPE_CHECKING, Any

from coffer.domain.resources import ResourceType
from coffer.ports.directory import FoundResource
from coffer.ports.resource_registry import ResourceAdapters

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_s3 import S3Client

#: GetResources' largest page
PAGE_SIZE = 100


def _tags(mapping: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}


def _list_buckets(directory: AwsResourceDirectory, token: str | None, account: str) -> tuple[list[str], str | None]:
    request: dict[str, Any] = {"BucketRegion": directory.region} if directory.region else {}
    if token:
        request["ContinuationToken"] = token
    response = directory.s3.list_buckets(**request)
    return [f"arn:{directory.partition}:s3:::{b['Name']}" for b in response.get("Buckets", [])], \
        response.get("ContinuationToken")


def _list_tables(directory: AwsResourceDirectory, token: str | None, account: str) -> tuple[list[str], str | None]:
    request: dict[str, Any] = {"Limit": PAGE_SIZE}
    if token:
        request["ExclusiveStartTableName"] = token
    response = directory.dynamodb.list_tables(**request)
    prefix = f"arn:{directory.partition}:dynamodb:{directory.region}:{account}:table/"
    return [prefix + name for name in response.get("TableNames", [])], response.get("LastEvaluatedTableName")


Listing = Callable[["AwsResourceDirectory", "str | None", str], tuple[list[str], "str | None"]]
#: each type's own listing (a page of ARNs and the next token): one line per resource type
LISTINGS: dict[ResourceType, Listing] = {
    ResourceType.S3: _list_buckets,
    ResourceType.DYNAMODB: _list_tables,
}


class AwsResourceDirectory:
    def __init__(self, tagging: ResourceGroupsTaggingAPIClient, s3: S3Client, dynamodb: DynamoDBClient,
                 resources: ResourceAdapters, region: str, partition: str = "aws") -> None:
        self.tagging = tagging
        self.s3 = s3
        self.dynamodb = dynamodb
        self._resources = resources
        self.region = region
        self.partition = partition

    def tagged_page(self, token: str | None, tag_filters: tuple[tuple[str, str], ...] = (),
                    type_filters: frozenset[str] | None = None) -> tuple[list[FoundResource], str | None]:
        """One page of GetResources: tagged resources of every type (or of `type_filters`)."""
        request: dict[str, Any] = {"ResourcesPerPage": PAGE_SIZE}
        if token:
            request["PaginationToken"] = token
        if tag_filters:
            request["TagFilters"] = [{"Key": key, "Values": [value]} for key, value in tag_filters]
        if type_filters:
            request["ResourceTypeFilters"] = sorted(type_filters)
        response = self.tagging.get_resources(**request)
        found = [FoundResource(m["ResourceARN"], _tags(m)) for m in response.get("ResourceTagMappingList", [])]
        return found, response.get("PaginationToken") or None

    def tags_of(self, arns: list[str]) -> dict[str, dict[str, str]]:
        """Tags of named resources; a resource GetResources does not know (never tagged) is absent."""
        found: dict[str, dict[str, str]] = {}
        for start in range(0, len(arns), PAGE_SIZE):
            request: dict[str, Any] = {"ResourceARNList": arns[start:start + PAGE_SIZE]}
            while True:
                response = self.tagging.get_resources(**request)
                found.update({m["ResourceARN"]: _tags(m) for m in response.get("ResourceTagMappingList", [])})
                if not response.get("PaginationToken"):
                    break
                request["PaginationToken"] = response["PaginationToken"]
        return found

    def listed_page(self, resource_type: ResourceType, token: str | None,
                    account: str) -> tuple[list[str], str | None]:
        """One page of a type's own listing (ARNs, tagged or not): a paginated List call where there is one
        here, else the type's adapter's discovery (resumed by position)."""
        if resource_type in LISTINGS:
            return LISTINGS[resource_type](self, token, account)
        start = int(token or 0)
        found = list(islice(self._resources.adapter(resource_type).discover(account), start, start + PAGE_SIZE))
        return [d.resource_arn for d in found], str(start + PAGE_SIZE) if len(found) == PAGE_SIZE else None
