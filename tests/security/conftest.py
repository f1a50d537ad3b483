"""The world the security tests run in: the twin with IAM enforced (coffer_twin.iam: every call of a function role
or a role session evaluated against the template's role, bucket, key, event bus and trust policies by
iam-simulate), and the principals who would try to get past the guards, each a real role in moto's IAM:

- ``operator``: OperatorRoleArn, with ``*`` in its own policy (vault administration, legal holds, the rules);
- ``admin``: an account administrator, ``*`` in its own policy and named nowhere in Coffer's policies;
- ``legal``: LegalHoldRoleArn (``*`` in its own policy); ``breakglass``: BreakGlassRoleArn (``*``);
- ``requester``: the one RestoreRequesterArns names (``events:PutEvents`` only);
- ``app``: another role of the account, the usual application rights (``events:PutEvents``, ``s3:*``,
  ``dynamodb:*``, ``kms:*`` on ``*``);
- ``lookalike``: a role named like the source stack's functions (``coffer-twin-...``), ``sts:AssumeRole`` on ``*``;
- each function's execution role (``Secured.function_role``) and the member copy role (member/template.yaml,
  deployed by ``prepare_copy_destination``).

A test acts as a principal through ``Secured.session(name)`` (credentials from moto's STS, evaluated as that
role) or ``Secured.cli(name, ...)`` (the ``coffer`` command with that role's credentials in the environment).
A refusal is checked three ways: the service's AccessDenied error, the decision the twin recorded (naming the
statement that denied), and the state read back afterwards by the harness (nothing changed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from twins import Twins

from coffer_cli.cli import main
from coffer_cli.local.copy_destinations import prepare_copy_destination
from coffer_cli.local.samples import SAMPLE_BUCKET, create_sample_bucket
from coffer_cli.local.session import LocalCoffer
from coffer_twin.iam import Decision

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
EVERYTHING = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
#: principal -> its identity policy statements (see the module doc)
PRINCIPALS: dict[str, list[dict[str, Any]]] = {
    "operator": EVERYTHING,
    "admin": EVERYTHING,
    "legal": EVERYTHING,
    "breakglass": EVERYTHING,
    "requester": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}],
    "app": [{"Effect": "Allow", "Action": ["events:PutEvents", "s3:*", "dynamodb:*", "kms:*"], "Resource": "*"}],
    "lookalike": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
}
ROLE_NAMES = {"operator": "coffer-operator", "admin": "account-admin", "legal": "legal-counsel",
              "breakglass": "break-glass", "requester": "restore-requester", "app": "orders-app",
              "lookalike": "coffer-twin-StartCopyJobFunctionRole-LOOKALIKE"}


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAMES[name]}"


PARAMETERS = {"BatchSize": "4", "OperatorRoleArn": role_arn("operator"), "LegalHoldRoleArn": role_arn("legal"),
              "BreakGlassRoleArn": role_arn("breakglass"), "RestoreRequesterArns": role_arn("requester")}
#: the errors AWS services answer an IAM refusal with
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


@dataclass
class Secured:
    coffer: LocalCoffer
    recovery_point_id: str
    """an S3 recovery point made by the Backup workflow with IAM enforced (its source: `source_bucket`)"""
    source_bucket: str
    destination: dict[str, str]
    """the outputs of the copy destination's storage (DESTINATION_REGION of this account)"""

    @property
    def twin(self) -> Any:
        return self.coffer.twin

    @property
    def vault_bucket(self) -> str:
        return self.coffer.settings.vault_bucket

    @property
    def outputs(self) -> dict[str, str]:
        return dict(self.twin.outputs)

    def session(self, name: str, region: str | None = None, tags: dict[str, str] | None = None) -> boto3.Session:
        """Credentials of a principal of PRINCIPALS, or of a role given by ARN (with session tags)."""
        arn = name if name.startswith("arn:") else role_arn(name)
        return self.twin.session_as(arn, region=region, tags=tags)

    def function_role(self, logical_id: str) -> str:
        return str(self.twin.iam.function_roles[logical_id])

    def as_function(self, logical_id: str) -> boto3.Session:
        """A session of a function's execution role: what a bug or an attacker in that function could call."""
        return self.twin.session_as(self.function_role(logical_id))

    def cli(self, name: str, *argv: str) -> tuple[int, str]:
        """Run the ``coffer`` command with the principal's credentials; (exit status, stdout)."""
        session = self.session(name)
        credentials = session.get_credentials().get_frozen_credentials()
        out = StringIO()
        with pytest.MonkeyPatch.context() as env, redirect_stdout(out):
            env.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
            env.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
            env.setenv("AWS_SESSION_TOKEN", credentials.token)
            env.delenv("AWS_SECURITY_TOKEN", raising=False)
            try:
                status = main([*argv, "--stack", self.twin.stack_name])
            except SystemExit as stop:
                status = stop.code if isinstance(stop.code, int) else 1
                out.write(str(stop.code))
        return status, out.getvalue()

    def decisions_since(self, mark: int) -> list[Decision]:
        return list(self.twin.iam.decisions[mark:])

    @contextmanager
    def refused(self, action: str, statement: str | None = None) -> Iterator[list[Decision]]:
        """The block's call must be refused with AccessDenied, the twin having denied `action` (explicitly by
        `statement`, ``<identity|resource>:<Sid>``, when given). Yields the decisions made in the block."""
        mark = len(self.twin.iam.decisions)
        made: list[Decision] = []
        with pytest.raises(ClientError) as raised:
            yield made
        made.extend(self.decisions_since(mark))
        assert raised.value.response["Error"]["Code"] in ACCESS_DENIED, raised.value.response["Error"]
        denied = [d for d in made if not d.allowed]
        assert denied, f"the call failed but the twin refused nothing: {raised.value}"
        assert denied[-1].action == action, denied
        if statement is not None:
            assert statement in denied[-1].denied_by, denied[-1]


def create_principals(iam: Any) -> None:
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    for name, statements in PRINCIPALS.items():
        iam.create_role(RoleName=ROLE_NAMES[name], AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName=ROLE_NAMES[name], PolicyName="own",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))


@pytest.fixture(scope="module")
def secured(twins: Twins) -> Iterator[Secured]:
    with twins.fresh(PARAMETERS, enforce_iam=True) as coffer:
        create_principals(coffer.client("iam"))
        destination = prepare_copy_destination(coffer, ROOT)  # the account's copy role and a copy destination
        create_sample_bucket(coffer.client("s3"))
        done = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{SAMPLE_BUCKET}", "IdempotencyToken": "base"})
        assert done["status"] == "SUCCEEDED", done
        assert not coffer.twin.iam.refusals(), coffer.twin.iam.refusals()
        job = coffer.deps.catalog.get_job(done["output"]["job_id"])
        yield Secured(coffer, job.recovery_point_id, SAMPLE_BUCKET, destination)
