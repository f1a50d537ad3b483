"""What the resource adapters share: Coffer's tags, AWS's tag lists, option parsing, ClientError translation.

Every adapter tags what it creates with the recovery point's id (TAG_RECOVERY_POINT): snapshots, images and
copies with their own recovery point's, restored resources with the one they came from plus the restore job's
id (TAG_RESTORE_JOB), which is also how a retried restore step finds the resource it already made.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from botocore.exceptions import ClientError

from coffer.adapters.aws import error_code, refusals_named
from coffer.domain.errors import CofferError, InvalidInput, NotFound
from coffer.domain.manifest import Manifest
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.resources import Arn, ResourceType
from coffer.ports.resources import Capability, CopyTarget, OperationStatus, unsupported

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import FilterTypeDef

TAG_RECOVERY_POINT = "coffer:recovery-point-id"
TAG_RESTORE_JOB = "coffer:restore-job-id"
#: on a copy: the recovery point it was copied from
TAG_PARENT = "coffer:parent-recovery-point-id"
#: AWS's limit of tags per EC2 / RDS resource
MAX_TAGS = 50
GIB = 1024**3
#: what a type without BackupOptions, or without refusals, declares
NO_OPTIONS: Mapping[str, frozenset[str]] = MappingProxyType({})
NO_REFUSALS: Mapping[Capability, str] = MappingProxyType({})

ErrorMap = Mapping[str, type[CofferError]]


def recorded(manifest: Manifest) -> dict[str, Any]:
    """The source facts the adapter recorded at backup time (the manifest keeps them as JSON values)."""
    return dict(manifest.source)


def user_tags(tag_list: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """[{"Key", "Value"}] as a dict, without AWS's reserved `aws:` tags (no caller may set those)."""
    return {str(t["Key"]): str(t["Value"]) for t in tag_list or () if not str(t["Key"]).startswith("aws:")}


def tag_list(*layers: Mapping[str, str]) -> list[Any]:
    """Tags as AWS lists them ([{"Key", "Value"}]: each service's stubs name that shape a TypedDict of its own),
    later layers winning. Past AWS's 50 the earliest layer's tags are dropped, so pass the source's tags first and
    Coffer's last: Coffer's own tags are never the ones left out."""
    merged: dict[str, str] = {}
    for layer in layers:
        for key, value in layer.items():
            merged.pop(key, None)
            merged[key] = value
    kept = list(merged.items())[-MAX_TAGS:]
    return [{"Key": k, "Value": v} for k, v in kept]


def coffer_tags(recovery_point_id: str, restore_job_id: str | None = None,
                parent_recovery_point_id: str | None = None) -> dict[str, str]:
    tags = {TAG_RECOVERY_POINT: recovery_point_id}
    if restore_job_id:
        tags[TAG_RESTORE_JOB] = restore_job_id
    if parent_recovery_point_id:
        tags[TAG_PARENT] = parent_recovery_point_id
    return tags


def tag_filter(key: str, value: str) -> list[FilterTypeDef]:
    return [{"Name": f"tag:{key}", "Values": [value]}]


def refuse(resource_type: ResourceType, refusals: Mapping[Capability, str], capability: Capability) -> NoReturn:
    raise unsupported(resource_type, capability, refusals[capability])


def split_ids(text: str) -> list[str]:
    """A list given as restore Metadata (a string): comma-separated ids."""
    return [part.strip() for part in text.split(",") if part.strip()]


def int_metadata(metadata: Mapping[str, str], key: str) -> int | None:
    value = metadata.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput([f"Metadata.{key}: '{value}' is not a whole number"]) from None


def region_of(arn: str) -> str:
    return Arn.parse(arn, field="").region


def last_part(arn: str, separator: str) -> str:
    """The id at the end of an ARN: `snapshot/snap-1` -> `snap-1` (separator "/"), `snapshot:x` -> `x` (":")."""
    return Arn.parse(arn, field="").resource.rsplit(separator, 1)[-1]


@contextmanager
def translated(errors: ErrorMap, what: str) -> Iterator[None]:
    """Turn the AWS error codes in `errors` into Coffer's exceptions (the message keeps AWS's code and
    words); other ClientErrors propagate unchanged, so the workflow's Retry can match throttling by name."""
    try:
        yield
    except ClientError as error:
        kind = errors.get(error_code(error))
        if kind is None:
            raise
        message = f"{what}: {error_code(error)}: {error.response.get('Error', {}).get('Message') or ''}".rstrip(": ")
        if kind is InvalidInput:
            raise InvalidInput([message]) from error
        raise kind(message) from error


def snapshot_permission(ec2: EC2Client, errors: ErrorMap, snapshot_id: str, account_id: str,
                        operation: Literal["add", "remove"]) -> None:
    """Share an EBS snapshot with `account_id` for a cross-account copy (createVolumePermission), or withdraw
    the share when the copy ended; withdrawing it from a snapshot that is gone is harmless."""
    try:
        with translated(errors, f"{'sharing' if operation == 'add' else 'unsharing'} {snapshot_id} with {account_id}"):
            ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission",
                                          OperationType=operation, UserIds=[account_id])
    except NotFound:
        if operation == "add":
            raise


class NoCopies:
    """For a type whose recovery points are not copied: every copy step refuses with the type's own reason."""

    resource_type: ResourceType
    refusals: Mapping[Capability, str]

    def share_for_copy(self, recovery_point: RecoveryPoint, account_id: str) -> None:
        refuse(self.resource_type, self.refusals, Capability.COPY_TO_ACCOUNT)

    def unshare_after_copy(self, recovery_point: RecoveryPoint, account_id: str) -> None:
        return  # share_for_copy refuses: nothing was ever shared

    def start_copy(self, recovery_point: RecoveryPoint, target: CopyTarget) -> str:
        refuse(self.resource_type, self.refusals,
               Capability.COPY_TO_ACCOUNT if target.account_id else Capability.COPY_TO_REGION)

    def copy_status(self, native_ref: str) -> OperationStatus:
        refuse(self.resource_type, self.refusals, Capability.COPY_TO_REGION)


class NoColdStorage:
    """For a type with no cold tier of its own: moving to cold storage refuses with the type's own reason."""

    resource_type: ResourceType
    refusals: Mapping[Capability, str]

    @refusals_named
    def start_cold(self, recovery_point: RecoveryPoint) -> None:
        refuse(self.resource_type, self.refusals, Capability.COLD_STORAGE)

    def cold_status(self, recovery_point: RecoveryPoint) -> OperationStatus:
        refuse(self.resource_type, self.refusals, Capability.COLD_STORAGE)
