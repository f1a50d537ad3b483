"""The events that start workflows: EventBridge envelopes (Powertools' model) around AWS Backup's inputs."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict

from coffer.domain.requests import StartBackupJobRequest, StartRestoreJobRequest


class StartBackupJobEvent(EventBridgeModel):
    detail: StartBackupJobRequest


class StartRestoreJobEvent(EventBridgeModel):
    detail: StartRestoreJobRequest


class StartBackupJobInvocation(BaseModel):
    """What the Backup workflow's first state passes: the event and the execution running it."""

    model_config = ConfigDict(extra="forbid")

    event: StartBackupJobEvent
    execution_arn: str | None = None


class StartRestoreJobInvocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: StartRestoreJobEvent
    execution_arn: str | None = None
