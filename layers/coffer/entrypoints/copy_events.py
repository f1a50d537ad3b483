"""The event that starts the Copy workflow: an EventBridge envelope (Powertools' model) around AWS Backup's
StartCopyJob input. `coffer copy start` puts it on the default bus; the Backup workflow starts the Copy workflow
with the same shape for each copy action of a completed backup."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict

from coffer.domain.copies import StartCopyJobRequest


class StartCopyJobEvent(EventBridgeModel):
    detail: StartCopyJobRequest


class StartCopyJobInvocation(BaseModel):
    """What the Copy workflow's first state passes: the event and the execution running it."""

    model_config = ConfigDict(extra="forbid")

    event: StartCopyJobEvent
    execution_arn: str | None = None
