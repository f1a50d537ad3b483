"""Create the CloudFormation stack in moto and fail loudly, naming the resource that broke."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

__all__ = ["DeployedStack", "TwinDeployError", "check_parameters", "create_stack", "event_buses_referenced_by_name",
           "names_of"]

_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class TwinDeployError(RuntimeError):
    """The template could not be deployed into moto; the message names the failing resource."""


@dataclass(frozen=True)
class DeployedStack:
    stack_id: str
    outputs: dict[str, str]
    physical_ids: dict[str, str]
    resource_types: dict[str, str]
    unsupported: dict[str, str]


@contextmanager
def _failing_resource_recorded(failures: list[str]) -> Iterator[None]:
    """moto raises straight out of CreateStack without saying which resource; wrap its factory to say it."""
    from moto.cloudformation import parsing

    original = parsing.parse_and_create_resource

    def parse_and_create_resource(logical_id: str, resource_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return original(logical_id, resource_json, *args, **kwargs)
        except Exception as exc:
            failures.append(f"{logical_id} ({resource_json.get('Type')}): {type(exc).__name__}: {exc}")
            raise

    with mock.patch.object(parsing, "parse_and_create_resource", parse_and_create_resource):
        yield


@contextmanager
def _json_templates_read_as_json() -> Iterator[None]:
    """moto reads every template body with PyYAML's pure-Python loader (seconds for Coffer's); the twin sends JSON,
    which json reads to the same document in milliseconds. A body that is not JSON goes to moto's reader."""
    from moto.cloudformation.models import Stack

    original = Stack.parse_template

    def parse_template(template: str) -> dict[str, Any]:
        try:
            document = json.loads(template)
        except ValueError:
            return original(template)
        return document if isinstance(document, dict) else original(template)

    with mock.patch.object(Stack, "parse_template", staticmethod(parse_template)):
        yield


@contextmanager
def event_buses_referenced_by_name() -> Iterator[None]:
    """CloudFormation's Ref of an ``AWS::Events::EventBus`` is its name; moto's EventBus has no physical id, so a
    Ref (a rule's ``EventBusName``, an output) resolved to the object itself. The twin gives it its name, for as
    long as it is open (outputs are resolved when read)."""
    from moto.events.models import EventBus

    with mock.patch.object(EventBus, "physical_resource_id", property(lambda bus: bus.name), create=True):
        yield


@contextmanager
def names_of(stack_name: str, region: str) -> Iterator[None]:
    """The suffixes CloudFormation adds to physical names (``coffer-twin-CheckBackupFunction-IR4769JZGRB0``),
    drawn from moto's random seeded by the stack: the same template deployed again as the same stack has the
    same names, so its workflow definitions repeat and each is parsed once per process (:mod:`.asl_cache`;
    random suffixes made every twin parse all seven again, most of a deploy). Still unique within a twin, as
    in AWS; moto's random carries on afterwards as if the deploy had drawn nothing."""
    from moto.moto_api._internal import mock_random

    state = mock_random.getstate()
    mock_random.seed(f"{stack_name}/{region}")
    try:
        yield
    finally:
        mock_random.setstate(state)


def check_parameters(template: dict[str, Any], parameters: dict[str, str]) -> None:
    """CloudFormation refuses parameters the template does not declare; so does the twin, before moto."""
    unknown = sorted(set(parameters) - set(template.get("Parameters") or {}))
    if unknown:
        raise TwinDeployError(f"parameters not declared by the template: {', '.join(unknown)}")


def _declared_parameters(template: dict[str, Any], parameters: dict[str, str]) -> list[dict[str, str]]:
    check_parameters(template, parameters)
    return [{"ParameterKey": key, "ParameterValue": str(value)} for key, value in parameters.items()]


def create_stack(
    session: Any, stack_name: str, template: dict[str, Any], parameters: dict[str, str], timeout: float = 60.0
) -> DeployedStack:
    """Create the stack, wait for CREATE_COMPLETE, and return what was created."""
    from moto.cloudformation.parsing import get_model_map

    cfn = session.client("cloudformation")
    failures: list[str] = []
    try:
        with _failing_resource_recorded(failures), _json_templates_read_as_json(), event_buses_referenced_by_name():
            stack_id = cfn.create_stack(
                StackName=stack_name,
                TemplateBody=json.dumps(template),
                Parameters=_declared_parameters(template, parameters),
                Capabilities=_CAPABILITIES,
            )["StackId"]
    except Exception as exc:
        reason = f"creating {failures[0]}" if failures else str(exc)
        raise TwinDeployError(f"CreateStack failed: {reason}") from exc

    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            break
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
            reasons = [
                f"{event['LogicalResourceId']}: {event.get('ResourceStatusReason')}"
                for event in events
                if event.get("ResourceStatus", "").endswith("FAILED")
            ]
            raise TwinDeployError(f"stack {stack_name} is {status}: {'; '.join(reasons) or 'no reason given'}")
        time.sleep(0.01)

    physical_ids: dict[str, str] = {}
    resource_types: dict[str, str] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id):
        for summary in page["StackResourceSummaries"]:
            if summary.get("LogicalResourceId"):  # moto lists skipped resources with blank ids
                physical_ids[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
                resource_types[summary["LogicalResourceId"]] = summary["ResourceType"]
    supported = get_model_map()
    unsupported = {
        logical_id: resource["Type"]
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource["Type"] not in supported
    }
    outputs = {output["OutputKey"]: output.get("OutputValue", "") for output in stack.get("Outputs", [])}
    return DeployedStack(stack_id, outputs, physical_ids, resource_types, unsupported)
