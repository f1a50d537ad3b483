"""Helpers every command group shares: the project root, the AWS session (region, profile, endpoint), and a
deployed stack's resources found from its CloudFormation outputs.

Where the CLI reads its AWS settings, in the order the AWS CLI uses:
- region: --region, else AWS_REGION, else AWS_DEFAULT_REGION, else the profile's `region` (botocore itself
  reads only the last two);
- credentials and profile: --profile, else AWS_PROFILE (botocore's own chain: environment keys, the shared
  files, SSO, the container and instance roles);
- endpoint: AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>), read by botocore for every client.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from coffer.adapters.aws import error_code
from coffer.adapters.catalog.vaults import VaultCatalog
from coffer.domain.input_rules.gates import PlanRules
from coffer.entrypoints.bootstrap import Root, bootstrap
from coffer.settings import Settings
from coffer_cli.commands.failures import DEPLOY_HINT, REGION_HINT, CliError, ExitCode, UsageError

DEFAULT_STACK = "coffer"
#: the outputs every command needs (the others are read where they are used, each refused by name if missing)
REQUIRED_OUTPUTS = ("CatalogTableName", "VaultBucketName", "WorkBucketName", "VaultKeyArn")


def project_root(value: str | None) -> Path:
    root = Path(value or ".").resolve()
    if not (root / "template.yaml").is_file():
        raise UsageError(f"--project: no template.yaml in {root} (run from the project root or pass --project)")
    return root


def add_name_argument(parser: argparse.ArgumentParser, dest: str, option: str | None = None) -> None:
    """What a verb acts on: a positional argument, or - under AWS Backup's verb names - its option spelling
    (`stop-backup-job --backup-job-id ID`, `describe-backup-vault --backup-vault-name NAME`)."""
    if option:
        parser.add_argument(option, dest=dest, required=True)
    else:
        parser.add_argument(dest)


def add_stack_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default=DEFAULT_STACK, help=f"CloudFormation stack name (default: {DEFAULT_STACK})")
    parser.add_argument("--region", default=None,
                        help="AWS region (default: AWS_REGION, else AWS_DEFAULT_REGION, else your profile's region)")
    parser.add_argument("--profile", default=None,
                        help="AWS profile of ~/.aws/config (default: AWS_PROFILE, else the default chain)")


def cli_config() -> Config:
    """The CLI's own clients: botocore's standard retry mode (throttling and 5xx retried with backoff) unless
    AWS_RETRY_MODE says otherwise; AWS_MAX_ATTEMPTS is honoured. A short connect timeout: an unreachable
    endpoint is reported in seconds, not minutes."""
    retries: Any = None if os.environ.get("AWS_RETRY_MODE") else {"mode": "standard"}
    return Config(retries=retries, connect_timeout=5, read_timeout=60)


def resolve_region(flag: str | None, session: boto3.Session) -> str:
    region = flag or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or session.region_name
    if not region:
        raise CliError(f"no AWS region: {REGION_HINT}", ExitCode.SETUP)
    return region


def aws_session(args: argparse.Namespace) -> boto3.Session:
    """A session for the region and profile the command line and the environment name (module docstring)."""
    profile = getattr(args, "profile", None)
    probe = boto3.Session(profile_name=profile)  # an unknown profile is refused here (ProfileNotFound)
    return boto3.Session(profile_name=profile, region_name=resolve_region(getattr(args, "region", None), probe))


@dataclass(frozen=True)
class Stack:
    """A deployed Coffer stack as the CLI sees it."""

    name: str
    session: boto3.Session
    outputs: dict[str, str]
    parameters: dict[str, str]

    @property
    def region(self) -> str:
        return str(self.session.region_name)

    @property
    def account(self) -> str:
        """The stack's account, from an ARN among its outputs (no STS call)."""
        return self.output("CatalogTableArn").split(":")[4]

    def output(self, key: str) -> str:
        value = self.outputs.get(key)
        if not value:
            raise CliError(f"stack {self.name} has no output {key}: update it to this version of Coffer "
                           "(sam build && sam deploy)", ExitCode.SETUP)
        return value

    def client(self, service: str) -> Any:
        session: Any = self.session  # the stubs type client() per service name; the CLI names them at run time
        return session.client(service, config=cli_config())


def read_stack(name: str, session: boto3.Session) -> Stack:
    """The stack `name`; a one-line refusal saying what to do when it is not there or is not Coffer's."""
    try:
        described = session.client("cloudformation", config=cli_config()).describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as error:
        # CloudFormation has no error code of its own for a missing stack: a ValidationError saying so.
        if error_code(error) == "ValidationError" and "does not exist" in str(error):
            raise CliError(f"no stack {name} in {session.region_name}: {DEPLOY_HINT}", ExitCode.SETUP) from None
        raise
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in described.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        status = described.get("StackStatus", "")
        raise CliError(f"stack {name} ({status}) has no output {', '.join(missing)}: is it a Coffer stack, "
                       f"deployed completely? {DEPLOY_HINT}", ExitCode.SETUP)
    return Stack(name, session, outputs, parameters)


def stack_outputs(stack: str, session: boto3.Session) -> dict[str, str]:
    """The deployed stack's outputs; a clear error when it is not there."""
    return read_stack(stack, session).outputs


def request_bus(outputs: dict[str, str]) -> str:
    """The bus restores and copies are requested on: the stack's own (its policy says who may put them); a stack
    deployed before it existed has its rules on the default bus."""
    return outputs.get("CofferEventBusName") or "default"


def stack_settings(outputs: dict[str, str], session: boto3.Session) -> Settings:
    env = {"CATALOG_TABLE": outputs.get("CatalogTableName", ""), "VAULT_BUCKET": outputs.get("VaultBucketName", ""),
           "WORK_BUCKET": outputs.get("WorkBucketName", ""), "VAULT_KEY_ARN": outputs.get("VaultKeyArn", "")}
    if session.region_name:
        env["AWS_REGION"] = session.region_name
    return Settings.from_env(env)


def open_stack(args: argparse.Namespace) -> tuple[Stack, Root]:
    """The stack named on the command line and its wired services (real account, or the twin in-process)."""
    session = aws_session(args)
    stack = read_stack(args.stack, session)
    return stack, bootstrap(stack_settings(stack.outputs, session), session=session)


def stack_deps(args: argparse.Namespace) -> tuple[Root, dict[str, str]]:
    """Wired services for the stack named on the command line, and its outputs."""
    stack, deps = open_stack(args)
    return deps, stack.outputs


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
            raise UsageError(f"{option}: '{pair}' is not KEY=VALUE")
        found[key] = value
    return found


def aws_map(value: str, option: str, numbers: bool = False) -> dict[str, Any]:
    """An AWS CLI map argument: JSON (`{"DeleteAfterDays": 35}`) or shorthand (`DeleteAfterDays=35,Key=v`);
    with `numbers`, shorthand values that are whole numbers become numbers (the AWS CLI's integer fields)."""
    import json

    text = value.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError as error:
            raise UsageError(f"{option}: not valid JSON ({error})") from None
        if not isinstance(parsed, dict):
            raise UsageError(f"{option}: a JSON object is expected")
        return parsed
    found: dict[str, Any] = {}
    last: str | None = None
    for pair in (p.strip() for p in text.split(",")):
        key, sep, raw = pair.partition("=")
        if not sep and last is not None:  # a comma inside a value: SecurityGroupIds=sg-1,sg-2
            found[last] = f"{found[last]},{pair}"
            continue
        if not sep or not key:
            raise UsageError(f"{option}: '{pair}' is not KEY=VALUE (or give a JSON object)")
        found[key], last = (int(raw) if numbers and raw.isdigit() else raw), key
    return found
