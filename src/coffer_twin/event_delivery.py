"""Deliver EventBridge events to Step Functions and Lambda targets, which moto's EventBridge does not do.

moto's ``PutEvents`` matches each rule of the bus with its own pattern code (``Rule.send_to_targets``
-> ``EventPattern.matches_event``) and then raises ``NotImplementedError`` for a ``states`` target.
The twin patches ``Rule.send_to_targets``: it keeps moto's matching and moto's delivery to the targets
moto supports, skips disabled rules (moto delivers to them; EventBridge does not), and starts an
execution for each state machine target with the input EventBridge would send: the event itself
(``version, id, detail-type, source, account, time, region, resources, detail``), or the target's
``Input`` / ``InputPath`` / ``InputTransformer``; a Lambda function target is invoked asynchronously (as
EventBridge does: ``InvocationType=Event``) with the same input. Because this sits under ``PutEvents``, events
put by handlers running in the twin are delivered the same way as those put by tests (and S3's events, sent by
:mod:`.s3_events`, too).
"""

from __future__ import annotations

import copy
import datetime
import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

__all__ = ["StepFunctionsDelivery", "eventbridge_event", "target_input"]


def eventbridge_event(moto_event: dict[str, Any]) -> dict[str, Any]:
    """The event as EventBridge hands it to targets: ISO time, no moto-only fields."""
    event = {key: value for key, value in moto_event.items() if key != "ingestion-time"}
    when = event.get("time")
    if isinstance(when, (int, float)):
        moment = datetime.datetime.fromtimestamp(when, tz=datetime.UTC)
        event["time"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def target_input(target: dict[str, Any], moto_event: dict[str, Any]) -> str:
    """The execution input for a rule target: its Input, InputPath or InputTransformer, else the event."""
    event = eventbridge_event(moto_event)
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        from jsonpath_ng.ext import parse  # type: ignore[attr-defined]

        matches = parse(target["InputPath"]).find(event)
        return json.dumps(matches[0].value if matches else None)
    if "InputTransformer" in target:
        from moto.events.utils import EventTemplateParser

        transformer = target["InputTransformer"]
        return json.dumps(
            EventTemplateParser.parse(
                input_template=transformer.get("InputTemplate"),
                input_paths_map=transformer.get("InputPathsMap", {}),
                event=moto_event,  # type: ignore[arg-type]
            )
        )
    return json.dumps(event)


def _is_state_machine(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) > 6 and parts[2] == "states" and parts[5] == "stateMachine"


def _is_function(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) > 6 and parts[2] == "lambda" and parts[5] == "function"


class StepFunctionsDelivery:
    """Starts executions for matching rules; remembers which event started which executions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: dict[str, list[str]] = defaultdict(list)

    def executions_started_by(self, event_id: str) -> list[str]:
        with self._lock:
            return list(self._started.get(event_id, []))

    @contextmanager
    def installed(self) -> Iterator[None]:
        from moto.events.models import Rule

        original = Rule.send_to_targets
        delivery = self

        def send_to_targets(rule: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
            if rule.state != "ENABLED" or not rule.event_pattern.matches_event(original_event):
                return
            machines = [target for target in rule.targets if _is_state_machine(target["Arn"])]
            functions = [target for target in rule.targets if _is_function(target["Arn"])]
            others = [target for target in rule.targets
                      if not _is_state_machine(target["Arn"]) and not _is_function(target["Arn"])]
            if others:
                supported = copy.copy(rule)
                supported.targets = others
                original(supported, original_event, transform_input)  # type: ignore[arg-type]
            for target in machines:
                delivery._start(target, original_event)
            for target in functions:
                delivery._invoke(target, original_event)

        with mock.patch.object(Rule, "send_to_targets", send_to_targets):
            yield

    def _start(self, target: dict[str, Any], moto_event: dict[str, Any]) -> None:
        from moto.stepfunctions.responses import get_backend

        arn = target["Arn"]
        _, _, _, region, account, *_ = arn.split(":")
        execution = get_backend(account, region).start_execution(
            arn, name=str(uuid.uuid4()), execution_input=target_input(target, moto_event)
        )
        with self._lock:
            self._started[str(moto_event.get("id"))].append(execution.execution_arn)

    @staticmethod
    def _invoke(target: dict[str, Any], moto_event: dict[str, Any]) -> None:
        """EventBridge invokes a Lambda target asynchronously (InvocationType Event), with the event as input."""
        from moto.awslambda.utils import get_backend

        _, _, _, region, account, *_ = target["Arn"].split(":")
        get_backend(account, region).invoke(target["Arn"], None, target_input(target, moto_event).encode(),
                                            {"X-Amz-Invocation-Type": "Event"}, {})
