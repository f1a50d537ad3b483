"""Which AWS events end a native restore's wait (domain/native_waits.py native_end): the attacker's near misses -
another EBS volume event, a volume ARN of the wrong shape, an RDS event of another kind or with the wrong EventID,
a cluster named by an instance event - are not ends; AWS's own shapes are, and name the target as the adapters do."""

from __future__ import annotations

from typing import Any

import pytest

from coffer.domain.native_waits import CompletionEvent, native_end, restore_waiter_ref
from coffer.domain.resources import ResourceType

REGION, ACCOUNT = "eu-west-1", "111122223333"
VOLUME = f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-0123456789abcdef0"
DB = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:orders-restored"
CLUSTER = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:ledger-restored"


def event(source: str, detail_type: str, detail: dict[str, Any], resources: list[str] | None = None) -> CompletionEvent:
    return CompletionEvent.model_validate({"source": source, "detail-type": detail_type, "region": REGION,
                                           "resources": resources or [], "detail": detail})


def volume_event(result: str = "available", cause: str = "", resources: list[str] | None = None,
                 name: str = "createVolume") -> CompletionEvent:
    detail = {"event": name, "result": result, "cause": cause, "request-id": "r"}
    return event("aws.ec2", "EBS Volume Notification", detail, [VOLUME] if resources is None else resources)


def rds_event(detail_type: str, arn: str, event_id: str) -> CompletionEvent:
    return event("aws.rds", detail_type, {"EventCategories": ["creation"], "SourceArn": arn, "EventID": event_id,
                                          "SourceIdentifier": arn.rsplit(":", 1)[-1]})


def test_a_created_volume_ends_the_restore_of_that_volume() -> None:
    end = native_end(volume_event(), "aws")
    assert end is not None and end.restore and end.resource_type is ResourceType.EBS
    assert end.native_ref == VOLUME and end.cause is None


def test_a_failed_volume_carries_awss_cause() -> None:
    end = native_end(volume_event("failed", "arn:aws:kms:eu-west-1:111122223333:key/k is disabled"), "aws")
    assert end is not None and end.cause == "arn:aws:kms:eu-west-1:111122223333:key/k is disabled"


@pytest.mark.parametrize("forged", [
    volume_event(name="attachVolume"),
    volume_event(resources=[]),
    volume_event(resources=[VOLUME, VOLUME.replace("vol-0", "vol-1")]),
    volume_event(resources=[f"arn:aws:ec2:{REGION}::volume/vol-0123"]),           # no account
    volume_event(resources=[f"arn:aws:ec2:{REGION}:{ACCOUNT}:snapshot/snap-0123"]),
    volume_event(resources=[f"arn:aws:s3:{REGION}:{ACCOUNT}:volume/vol-0123"]),
], ids=["another-volume-event", "no-resource", "two-resources", "no-account", "a-snapshot", "another-service"])
def test_volume_events_that_name_no_single_volume_end_nothing(forged: CompletionEvent) -> None:
    assert native_end(forged, "aws") is None


def test_rds_creation_events_end_the_restore_of_that_instance_or_cluster() -> None:
    instance = native_end(rds_event("RDS DB Instance Event", DB, "RDS-EVENT-0005"), "aws")
    cluster = native_end(rds_event("RDS DB Cluster Event", CLUSTER, "RDS-EVENT-0170"), "aws")
    assert instance is not None and (instance.resource_type, instance.native_ref, instance.restore) == (
        ResourceType.RDS, DB, True)
    assert cluster is not None and (cluster.resource_type, cluster.native_ref, cluster.restore) == (
        ResourceType.AURORA, CLUSTER, True)


@pytest.mark.parametrize(("detail_type", "arn", "event_id"), [
    ("RDS DB Instance Event", DB, "RDS-EVENT-0006"),            # restarted, not created
    ("RDS DB Instance Event", DB, "RDS-EVENT-0170"),            # the cluster's ID on an instance event
    ("RDS DB Instance Event", CLUSTER, "RDS-EVENT-0005"),       # a cluster named by an instance event
    ("RDS DB Cluster Event", DB, "RDS-EVENT-0170"),             # an instance named by a cluster event
    ("RDS DB Cluster Event", "not-an-arn", "RDS-EVENT-0170"),
])
def test_rds_events_of_another_kind_end_nothing(detail_type: str, arn: str, event_id: str) -> None:
    assert native_end(rds_event(detail_type, arn, event_id), "aws") is None


def test_a_restores_waiter_is_its_targets_and_its_jobs() -> None:
    assert restore_waiter_ref(VOLUME, "job-1") != restore_waiter_ref(VOLUME, "job-2")
    assert restore_waiter_ref(VOLUME, "job-1").startswith(VOLUME)
