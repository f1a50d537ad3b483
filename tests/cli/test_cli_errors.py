"""What goes wrong is said in one line with its cause and what to do, with the documented exit code, and never
as a traceback: every verb against a deployed stack, run as a user's shell runs it, with no region, no
credentials, no stack and an unreachable endpoint; then AWS's own refusals (access denied, rejected
credentials, throttling after retries, a service error, another refusal) from real HTTP endpoints."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from .conftest import NOWHERE, ROOT, Shell, assert_one_line, free_port

PLAN = str(ROOT / "examples/plans/sample.yaml")
POLICY = str(ROOT / "tests/cli/fixtures/deny_policy.json")
POINT = "arn:aws:backup:us-east-1:123456789012:recovery-point:0f6b5d4e-0000-4000-8000-000000000000"
VAULT_ARN = "arn:aws:backup:us-west-2:123456789012:backup-vault:Elsewhere"
BUCKET = "arn:aws:s3:::some-bucket"

#: every verb that works against a deployed stack, with arguments it accepts
VERBS: dict[str, list[str]] = {
    "jobs list": ["jobs", "list"],
    "jobs describe": ["jobs", "describe", "some-job"],
    "jobs watch": ["jobs", "watch", "some-job", "--timeout", "5"],
    "jobs stop": ["jobs", "stop", "some-job"],
    "recovery-points list": ["recovery-points", "list", "--by-resource-type", "S3"],
    "recovery-points list-by-resource": ["recovery-points", "list-by-resource", "--resource-arn", BUCKET],
    "recovery-points describe": ["recovery-points", "describe", POINT],
    "recovery-points restore-metadata": ["recovery-points", "restore-metadata", POINT],
    "backup start": ["backup", "start", "--resource-arn", BUCKET, "--wait", "--timeout", "5"],
    "copy start": ["copy", "start", "--recovery-point", POINT, "--destination-vault-arn", VAULT_ARN],
    "restore start": ["restore", "start", "--recovery-point", POINT, "--metadata", "DestinationBucketName=b"],
    "plan diff": ["plan", "diff", PLAN],
    "plan apply": ["plan", "apply", PLAN, "--yes"],
    "plan export": ["plan", "export", "sample-hourly-daily"],
    "plan list": ["plan", "list"],
    "plan runs": ["plan", "runs", "sample-hourly-daily"],
    "plan delete": ["plan", "delete", "sample-hourly-daily", "--yes"],
    "vault create": ["vault", "create", "Gold"],
    "vault describe": ["vault", "describe", "Gold"],
    "vault list": ["vault", "list"],
    "vault delete": ["vault", "delete", "Gold"],
    "vault lock": ["vault", "lock", "Gold", "--min-retention-days", "3"],
    "vault unlock": ["vault", "unlock", "Gold"],
    "vault set-policy": ["vault", "set-policy", "Gold", "--policy", POLICY],
    "vault apply-policies": ["vault", "apply-policies"],
    "vault verify": ["vault", "verify"],
    "vault notifications": ["vault", "notifications", "get", "Gold"],
    "vault bypass-governance": ["vault", "bypass-governance", "--recovery-point", "p", "--reason", "a reason long "
                                "enough", "--confirm", "p"],
    "legalhold create": ["legalhold", "create", "--title", "t", "--recovery-point", "p"],
    "legalhold list": ["legalhold", "list"],
    "legalhold describe": ["legalhold", "describe", "h"],
    "legalhold release": ["legalhold", "release", "h", "--reason", "done"],
    "audit verify": ["audit", "verify"],
    "audit show": ["audit", "show"],
    "catalog rebuild": ["catalog", "rebuild", "--vault", "Default"],
    "sweep runs": ["sweep", "runs"],
    "sweep show": ["sweep", "show", "some-run"],
    "env-json": ["env-json"],
    "list-backup-jobs": ["list-backup-jobs"],
    "list-copy-jobs": ["list-copy-jobs"],
    "list-restore-jobs": ["list-restore-jobs"],
    "describe-backup-job": ["describe-backup-job", "--backup-job-id", "j"],
    "describe-copy-job": ["describe-copy-job", "--copy-job-id", "j"],
    "describe-restore-job": ["describe-restore-job", "--restore-job-id", "j"],
    "stop-backup-job": ["stop-backup-job", "--backup-job-id", "j"],
    "list-recovery-points-by-backup-vault": ["list-recovery-points-by-backup-vault", "--backup-vault-name", "Default"],
    "list-recovery-points-by-resource": ["list-recovery-points-by-resource", "--resource-arn", BUCKET],
    "describe-recovery-point": ["describe-recovery-point", "--backup-vault-name", "Default",
                                "--recovery-point-arn", POINT],
    "get-recovery-point-restore-metadata": ["get-recovery-point-restore-metadata", "--backup-vault-name", "Default",
                                            "--recovery-point-arn", POINT],
    "start-backup-job": ["start-backup-job", "--backup-vault-name", "Default", "--resource-arn", BUCKET],
    "start-copy-job": ["start-copy-job", "--recovery-point-arn", POINT, "--destination-backup-vault-arn", VAULT_ARN],
    "start-restore-job": ["start-restore-job", "--recovery-point-arn", POINT, "--metadata",
                          "DestinationBucketName=b"],
    "list-backup-vaults": ["list-backup-vaults"],
    "describe-backup-vault": ["describe-backup-vault", "--backup-vault-name", "Gold"],
    "list-backup-plans": ["list-backup-plans"],
    "list-legal-holds": ["list-legal-holds"],
}


def test_every_command_of_the_parser_is_in_the_matrix() -> None:
    """A verb added later cannot skip these tests: the parser's commands are the matrix's (local ones aside)."""
    from coffer_cli.cli import parser

    top = parser()
    found: set[str] = set()
    for action in top._subparsers._group_actions:  # type: ignore[union-attr]
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
            found |= {f"{name} {verb}" for a in nested for verb in a.choices} if nested else {name}
    offline = {"local demo", "local invoke", "local tick", "plan validate"}
    assert found - offline == set(VERBS)


#: the verbs also run as processes of their own, as a user's shell runs them (the entry point, the interpreter's
#: own output); every verb runs in this process too (Shell.run_in_process: the same command line through main)
AS_PROCESSES = ("jobs list", "backup start", "plan apply")


def run_all(shell: Shell, env: dict[str, str | None]) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every verb in this process, several at a time; a few as processes of their own too."""
    with ThreadPoolExecutor(max_workers=len(AS_PROCESSES)) as pool:
        processes = {f"{name} (a process)": pool.submit(shell.run, *VERBS[name], env=env, timeout=120)
                     for name in AS_PROCESSES}
        results = shell.run_in_process(VERBS, env)
        return {**results, **{name: future.result() for name, future in processes.items()}}


def assert_each_one_line(results: dict[str, subprocess.CompletedProcess[str]], code: int, *fragments: str) -> None:
    problems = {}
    for name, result in results.items():
        try:
            assert_one_line(result, code, *fragments)
        except AssertionError as error:
            problems[name] = str(error)[:400]
    assert not problems, problems


def test_every_verb_without_a_region_says_how_to_set_one_with_exit_4(moto_server: str) -> None:
    results = run_all(Shell(moto_server), {"AWS_REGION": None, "AWS_DEFAULT_REGION": None})
    assert_each_one_line(results, 4, "no AWS region: pass --region, or set AWS_REGION")


def test_every_verb_without_credentials_says_how_to_give_them_with_exit_4(moto_server: str) -> None:
    results = run_all(Shell(moto_server), {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None})
    assert_each_one_line(results, 4, "no AWS credentials", "set AWS_PROFILE")


def test_every_verb_without_the_stack_says_deploy_it_first_with_exit_4(moto_server: str) -> None:
    results = run_all(Shell(moto_server), {})
    assert_each_one_line(results, 4, "no stack coffer in us-east-1: deploy the stack first: sam build && sam deploy")


def test_every_verb_with_an_unreachable_endpoint_says_so_with_exit_6() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    results = run_all(Shell(endpoint), {})
    assert_each_one_line(results, 6, f"cannot reach {endpoint}", "AWS_ENDPOINT_URL")


def test_debug_shows_the_traceback_one_line_would_hide(moto_server: str) -> None:
    result = Shell(moto_server).run("--debug", "jobs", "list", env={"AWS_REGION": None, "AWS_DEFAULT_REGION": None})
    assert result.returncode == 1 and "Traceback" in result.stderr and "CliError: no AWS region" in result.stderr


def test_usage_mistakes_are_one_line_with_exit_2(moto_server: str) -> None:
    shell = Shell(moto_server)
    assert_one_line(shell.run("jobs", "list", "--by-created-after", "last tuesday"), 2,
                    "argument --by-created-after: 'last tuesday' is not a time", "(see: coffer jobs list --help)")
    results = shell.run_in_process({
        "json": ["backup", "start", "--resource-arn", BUCKET, "--lifecycle", "{nope"],
        "metadata": ["restore", "start", "--recovery-point", "p", "--metadata", "=x"],
        "choice": ["jobs", "list", "--by-state", "DONE"],
        "order": ["list-backup-jobs", "--by-created-after", "2026-12-02", "--by-created-before", "2026-12-01"],
        "verb": ["jobs", "lisst"]})
    assert_one_line(results["json"], 2, "--lifecycle: not valid JSON")
    assert_one_line(results["metadata"], 2, "--metadata: '=x' is not KEY=VALUE")
    assert_one_line(results["choice"], 2, "argument --by-state: invalid choice: 'DONE'")
    assert_one_line(results["order"], 2, "--by-created-before must be later than --by-created-after")
    assert_one_line(results["verb"], 2, "invalid choice: 'lisst'")


def test_a_request_refused_by_coffer_before_sending_names_every_bad_field_with_exit_1(moto_server: str) -> None:
    result = Shell(moto_server).run("backup", "start", "--resource-arn", "arn:aws:sqs:us-east-1:1:q",
                                    "--delete-after-days", "0")
    line = assert_one_line(result, 1, "ResourceArn", "DeleteAfterDays")
    assert "no stack" not in line  # refused before any AWS call


# ---- AWS's own refusals, from real endpoints -------------------------------------------------------------
@pytest.fixture(scope="module")
def authenticating_moto() -> Iterator[str]:
    """A moto server that authenticates and authorises every request after the first two (moto's IAM
    emulation): those two make a user without any policy, and an access key for it."""
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "2", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing"}
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                import urllib.request

                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_access_denied_names_the_operation_with_exit_5(authenticating_moto: str) -> None:
    iam = boto3.client("iam", endpoint_url=authenticating_moto, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    iam.create_user(UserName="no-rights")
    key = iam.create_access_key(UserName="no-rights")["AccessKey"]
    result = Shell(authenticating_moto).run("jobs", "list", env={
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]})
    assert_one_line(result, 5, "AWS denied DescribeStacks (AccessDenied", "whose policy allows it")
    unknown = Shell(authenticating_moto).run("jobs", "list", env={"AWS_ACCESS_KEY_ID": "AKIANOTAKEY0000000000"})
    assert_one_line(unknown, 5, "AWS rejected the credentials (InvalidClientTokenId", "refresh them")


class AwsAnswering(BaseHTTPRequestHandler):
    """Answers every request with one CloudFormation error (the Query protocol's XML); counts the requests."""

    status = 400
    code = "Throttling"
    requests = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with AwsAnswering.lock:
            type(self).requests += 1
        body = (f'<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error>'
                f"<Type>Sender</Type><Code>{self.code}</Code><Message>{self.code} from the test endpoint</Message>"
                "</Error><RequestId>test</RequestId></ErrorResponse>").encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def answering(status: int, code: str) -> tuple[ThreadingHTTPServer, type[AwsAnswering]]:
    handler = type("Answer", (AwsAnswering,), {"status": status, "code": code, "requests": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


@pytest.mark.parametrize(("status", "code", "exit_code", "fragment", "attempts"), [
    (400, "Throttling", 6, "AWS throttled DescribeStacks after retries (Throttling): try again in a minute", 3),
    (500, "InternalFailure", 6, "AWS failed DescribeStacks (InternalFailure", 3),
    (400, "ValidationError", 7, "AWS refused DescribeStacks (ValidationError): ValidationError from the test", 1),
])
def test_aws_errors_after_botocores_retries_are_one_line(status: int, code: str, exit_code: int, fragment: str,
                                                         attempts: int) -> None:
    server, handler = answering(status, code)
    try:
        shell = Shell(f"http://127.0.0.1:{server.server_address[1]}")
        result = shell.run_in_process({"jobs list": ["jobs", "list"]})["jobs list"]
        assert_one_line(result, exit_code, fragment)
        assert handler.requests == attempts  # botocore's standard retry mode: 3 attempts for what it retries
    finally:
        server.shutdown()


def test_aws_max_attempts_is_honoured() -> None:
    server, handler = answering(400, "Throttling")
    try:
        result = Shell(f"http://127.0.0.1:{server.server_address[1]}").run("jobs", "list",
                                                                            env={"AWS_MAX_ATTEMPTS": "5"})
        assert_one_line(result, 6, "AWS throttled DescribeStacks")
        assert handler.requests == 5
    finally:
        server.shutdown()


def test_nowhere_is_not_a_real_home() -> None:
    assert not Path(NOWHERE).exists()  # the shell's AWS files must not exist, or a real profile could leak in
