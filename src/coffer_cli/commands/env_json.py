"""`coffer env-json --stack NAME > env.json`: SAM's env-vars JSON for `sam local invoke --env-vars env.json`
(where Docker runs), so a function invoked locally talks to the deployed stack's table, buckets and key.

Each function's environment as the deployed template set it: the stack's Lambda functions
(ListStackResources, by page) and each one's GetFunctionConfiguration. One call per function, no more.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from coffer_cli.commands.common import add_stack_option, aws_session, read_stack
from coffer_cli.commands.failures import ExitCode


def stack_functions(cloudformation: Any, stack: str) -> dict[str, str]:
    """Logical id -> function name of the stack's Lambda functions."""
    found: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        for resource in page["StackResourceSummaries"]:
            if resource["ResourceType"] == "AWS::Lambda::Function" and resource.get("PhysicalResourceId"):
                found[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    return found


def env_json(cloudformation: Any, lam: Any, stack: str) -> dict[str, dict[str, str]]:
    document: dict[str, dict[str, str]] = {}
    for logical_id, name in sorted(stack_functions(cloudformation, stack).items()):
        variables = lam.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
        document[logical_id] = {str(k): str(v) for k, v in sorted(variables.items())}
    return document


def _run(args: argparse.Namespace) -> int:
    stack = read_stack(args.stack, aws_session(args))
    print(json.dumps(env_json(stack.client("cloudformation"), stack.client("lambda"), stack.name), indent=2))
    return ExitCode.OK


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "env-json", help="SAM's env-vars JSON from a deployed stack: sam local invoke FUNCTION --env-vars env.json",
        description="Print each function's environment variables, as the deployed stack set them, in SAM's "
                    "env-vars format ({\"FunctionLogicalId\": {\"VAR\": \"value\"}}). Use it with sam local "
                    "invoke (needs Docker) or coffer local invoke --env-vars.")
    add_stack_option(parser)
    parser.set_defaults(run=_run)
