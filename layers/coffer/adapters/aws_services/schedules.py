"""EventBridge Scheduler: one schedule per plan rule, in the stack's schedule group, targeting PlanRun."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from coffer.adapters.aws import error_code
from coffer.domain.errors import ConcurrentUpdate, NotFound

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient


class PlanSchedules:
    def __init__(self, client: EventBridgeSchedulerClient, group: str) -> None:
        self._scheduler = client
        self.group = group

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self._scheduler.get_schedule(Name=name, GroupName=self.group))
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise

    def create(self, definition: dict[str, Any]) -> None:
        try:
            self._scheduler.create_schedule(**definition)
        except ClientError as error:
            if error_code(error) == "ConflictException":
                raise ConcurrentUpdate(f"schedule {definition['Name']} exists already") from error
            raise

    def update(self, definition: dict[str, Any]) -> None:
        try:
            self._scheduler.update_schedule(**definition)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                raise NotFound(f"schedule {definition['Name']} not found") from error
            raise

    def delete(self, name: str) -> bool:
        """Delete a schedule; False if it was already gone."""
        try:
            self._scheduler.delete_schedule(Name=name, GroupName=self.group)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return False
            raise
        return True

    def names(self, prefix: str | None = None) -> Iterator[str]:
        request: dict[str, Any] = {"GroupName": self.group}
        if prefix:
            request["NamePrefix"] = prefix
        for page in self._scheduler.get_paginator("list_schedules").paginate(**request):
            for schedule in page.get("Schedules", []):
                yield str(schedule["Name"])

    def full(self) -> Iterator[dict[str, Any]]:
        """Every schedule of the group with its details (GetSchedule each: ListSchedules gives summaries)."""
        for name in list(self.names()):
            found = self.get(name)
            if found is not None:
                yield found
