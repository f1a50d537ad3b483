"""The stack as CloudFormation deployed it (ports/stack_template.py): GetTemplate (the processed stage: after the
SAM transform), DescribeStacks (parameter values) and ListStackResources (paginated: a stack has more resources than
DescribeStackResources returns)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from coffer.domain.cfn_template import DeployedStack
from coffer.domain.errors import InvalidInput

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient


class CloudFormationStack:
    def __init__(self, client: CloudFormationClient, stack_name: str | None) -> None:
        self._cfn = client
        self._stack = stack_name

    def deployed(self) -> DeployedStack:
        if not self._stack:
            raise InvalidInput(["environment: STACK_NAME is not set: verify compares the key and bucket policies "
                                "with the stack's template and needs the stack's name"])
        stack = self._cfn.describe_stacks(StackName=self._stack)["Stacks"][0]
        body: Any = self._cfn.get_template(StackName=self._stack, TemplateStage="Processed")["TemplateBody"]
        template = body if isinstance(body, dict) else json.loads(body)
        physical: dict[str, str] = {}
        for page in self._cfn.get_paginator("list_stack_resources").paginate(StackName=self._stack):
            for resource in page.get("StackResourceSummaries", []):
                if resource.get("PhysicalResourceId"):
                    physical[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
        stack_id = str(stack["StackId"])
        _, partition, _, region, account = stack_id.split(":", 5)[:5]
        return DeployedStack(template=dict(template),
                             parameters={p["ParameterKey"]: p.get("ParameterValue", "")
                                         for p in stack.get("Parameters", [])},
                             physical_ids=physical, account=account, region=region, partition=partition,
                             stack_name=str(stack["StackName"]), stack_id=stack_id)
