"""Helpers every command group shares: the project root, and a deployed stack's resources."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from coffer.adapters.catalog.vaults import VaultCatalog
from coffer.domain.input_rules.gates import PlanRules
from coffer.services.wiring import Deps, build
from coffer.settings import Settings

DEFAULT_STACK = "coffer"


def project_root(value: str | None) -> Path:
    root = Path(value or ".").resolve()
    if not (root / "template.yaml").is_file():
        raise SystemExit(f"coffer: --project: no template.yaml in {root} (run from the project root or pass --project)")
    return root


def add_stack_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default=DEFAULT_STACK, help=f"CloudFormation stack name (default: {DEFAULT_STACK})")
    parser.add_argument("--region", default=None, help="AWS region (default: from the environment)")


def stack_outputs(stack: str, session: boto3.Session) -> dict[str, str]:
    """The deployed stack's outputs; a clear error when it is not there."""
    try:
        described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        raise SystemExit(f"coffer: --stack: {error.response['Error'].get('Message', error)}") from None
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def stack_settings(outputs: dict[str, str], session: boto3.Session) -> Settings:
    env = {"CATALOG_TABLE": outputs.get("CatalogTableName", ""), "VAULT_BUCKET": outputs.get("VaultBucketName", ""),
           "WORK_BUCKET": outputs.get("WorkBucketName", ""), "VAULT_KEY_ARN": outputs.get("VaultKeyArn", "")}
    if session.region_name:
        env["AWS_REGION"] = session.region_name
    return Settings.from_env(env)


def stack_deps(args: argparse.Namespace) -> tuple[Deps, dict[str, str]]:
    """Wired services for the stack named on the command line (real account, or the twin in-process)."""
    session = boto3.Session(region_name=args.region) if args.region else boto3.Session()
    outputs = stack_outputs(args.stack, session)
    return build(stack_settings(outputs, session), session=session), outputs


def plan_rules(outputs: dict[str, str], session: boto3.Session) -> PlanRules:
    """What `coffer plan apply` checks against the stack: its account and region, its own resources, its vaults."""
    settings = stack_settings(outputs, session)
    vaults = VaultCatalog(session.client("dynamodb"), settings.catalog_table)
    return PlanRules(settings.home, lambda name: vaults.get_vault(name) is not None)


def key_value_pairs(values: list[str], option: str) -> dict[str, str]:
    """Repeated KEY=VALUE options as a dict; anything else is refused naming the option."""
    found: dict[str, str] = {}
    for pair in values:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"coffer: {option}: '{pair}' is not KEY=VALUE")
        found[key] = value
    return found


def print_json(value: Any) -> None:
    import json

    print(json.dumps(value, indent=2, default=str))
