"""Rules of the resource adapters that moto never exercises: in-progress and failed states (moto's snapshots,
images and copies are done the moment they are made), AWS's tag limit, option checks, error translation.

The fake clients answer only the describe calls a status check makes; everything else is in
tests/contract/test_resource_adapters.py, on moto.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from coffer.adapters.resources.aurora import AuroraAdapter
from coffer.adapters.resources.common import (
    MAX_TAGS,
    TAG_RECOVERY_POINT,
    coffer_tags,
    tag_list,
    translated,
)
from coffer.adapters.resources.ebs import EbsAdapter
from coffer.adapters.resources.ec2 import Ec2Adapter
from coffer.adapters.resources.rds import RdsAdapter
from coffer.domain.errors import InvalidInput, NativeOperationFailed, NotFound
from coffer.domain.jobs import Job, JobKind
from coffer.domain.resources import ResourceType, check_options

NOW = datetime(2026, 11, 25, tzinfo=UTC)


class FakeClient:
    """Answers `operation(**params)` with the canned response (or raises it if it is an exception)."""

    def __init__(self, **responses: Any) -> None:
        self.meta = SimpleNamespace(region_name="us-east-1", partition="aws")
        self._responses = responses
        self.calls: list[str] = []

    def __getattr__(self, operation: str) -> Any:
        def call(**_: Any) -> Any:
            self.calls.append(operation)
            answer = self._responses[operation]
            if isinstance(answer, Exception):
                raise answer
            return answer
        return call


def job(native_ref: str, resource_type: ResourceType) -> Job:
    return Job(job_id="j", kind=JobKind.BACKUP, resource_arn="arn:aws:ec2:us-east-1:1:volume/vol-1",
               resource_type=resource_type, vault_name="Default", recovery_point_id="rp", created_at=NOW,
               start_by=NOW, native_ref=native_ref)


SNAPSHOT = "arn:aws:ec2:us-east-1::snapshot/snap-1"
IMAGE = "arn:aws:ec2:us-east-1::image/ami-1"
DB_SNAPSHOT = "arn:aws:rds:us-east-1:1:snapshot:coffer-rp"
CLUSTER_SNAPSHOT = "arn:aws:rds:us-east-1:1:cluster-snapshot:coffer-rp"


def ebs(state: str) -> tuple[Any, Job]:
    client = FakeClient(describe_snapshots={"Snapshots": [
        {"SnapshotId": "snap-1", "State": state, "VolumeSize": 8, "Progress": "40%", "StateMessage": "disk error"}]})
    return EbsAdapter(client), job(SNAPSHOT, ResourceType.EBS)


def ec2(state: str) -> tuple[Any, Job]:
    client = FakeClient(describe_images={"Images": [{"ImageId": "ami-1", "State": state, "BlockDeviceMappings": [],
                                                     "StateReason": {"Message": "no capacity"}}]})
    return Ec2Adapter(client), job(IMAGE, ResourceType.EC2)


def rds(status: str) -> tuple[Any, Job]:
    client = FakeClient(describe_db_snapshots={"DBSnapshots": [
        {"DBSnapshotIdentifier": "coffer-rp", "Status": status, "AllocatedStorage": 20, "PercentProgress": 40}]})
    return RdsAdapter(client), job(DB_SNAPSHOT, ResourceType.RDS)


def aurora(status: str) -> tuple[Any, Job]:
    client = FakeClient(describe_db_cluster_snapshots={"DBClusterSnapshots": [
        {"DBClusterSnapshotIdentifier": "coffer-rp", "Status": status, "AllocatedStorage": 1}]})
    return AuroraAdapter(client), job(CLUSTER_SNAPSHOT, ResourceType.AURORA)


@pytest.mark.parametrize(("make", "in_progress", "done", "failed"), [
    (ebs, "pending", "completed", "error"),
    (ec2, "pending", "available", "failed"),
    (rds, "creating", "available", "failed"),
    (aurora, "creating", "available", "failed"),
], ids=["EBS", "EC2", "RDS", "Aurora"])
def test_backup_status_waits_while_in_progress_and_fails_loudly(make: Any, in_progress: str, done: str,
                                                                failed: str) -> None:
    adapter, running = make(in_progress)
    assert adapter.backup_status(running).done is False
    adapter, running = make(done)
    assert adapter.backup_status(running).done is True
    adapter, running = make(failed)
    with pytest.raises(NativeOperationFailed, match=failed):
        adapter.backup_status(running)


def test_an_ami_is_not_tagged_through_until_it_is_available() -> None:
    adapter, running = ec2("pending")
    adapter.backup_status(running)
    assert "create_tags" not in adapter._ec2.calls


def test_coffers_tags_win_and_aws_limit_of_50_is_kept() -> None:
    source = {f"k{i}": "v" for i in range(60)}
    tags = tag_list(source, {"backup": "nightly", "k1": "mine"}, coffer_tags("rp-1"))
    assert len(tags) == MAX_TAGS
    as_dict = {t["Key"]: t["Value"] for t in tags}
    assert as_dict[TAG_RECOVERY_POINT] == "rp-1" and as_dict["backup"] == "nightly" and as_dict["k1"] == "mine"


def test_backup_options_are_checked_against_the_type() -> None:
    assert check_options({"NoReboot": "false"}, Ec2Adapter.backup_options, ResourceType.EC2) == []
    assert check_options({"NoReboot": "maybe"}, Ec2Adapter.backup_options, ResourceType.EC2) == [
        "BackupOptions.NoReboot: 'maybe' is not one of false, true"]
    assert check_options({"NoReboot": "true"}, EbsAdapter.backup_options, ResourceType.EBS) == [
        "BackupOptions.NoReboot: not an option for EBS (options: none)"]


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "said AWS"}}, "DescribeSnapshots")


def test_aws_error_codes_become_coffer_errors_and_others_pass_through() -> None:
    errors = {"InvalidSnapshot.NotFound": NotFound, "InvalidParameterValue": InvalidInput}
    with pytest.raises(NotFound, match=r"snapshot snap-1: InvalidSnapshot\.NotFound: said AWS"), \
            translated(errors, "snapshot snap-1"):
        raise _error("InvalidSnapshot.NotFound")
    with pytest.raises(InvalidInput, match="invalid input: snapshot snap-1: InvalidParameterValue"), \
            translated(errors, "snapshot snap-1"):
        raise _error("InvalidParameterValue")
    # Throttling stays a ClientError with its code, so the workflow's Retry matches it by name.
    with pytest.raises(ClientError, match="RequestLimitExceeded"), translated(errors, "snapshot snap-1"):
        raise _error("RequestLimitExceeded")


def test_a_snapshot_deleted_behind_coffers_back_is_not_found() -> None:
    adapter = EbsAdapter(FakeClient(describe_snapshots=_error("InvalidSnapshot.NotFound")))
    with pytest.raises(NotFound):
        adapter.backup_status(job(SNAPSHOT, ResourceType.EBS))
