"""What a handler's import leaves to its first invocation, held without timing anything (the times are
bench/cold_start.py's): no X-Ray SDK, none of the SDK's client machinery, no event model but the one it parses.
And what the first invocation still does: trace (a ``## lambda_handler`` subsegment, a subsegment per AWS call,
only botocore patched) and log with the Lambda context.

Each import runs in a fresh interpreter with Lambda's environment (LAMBDA_TASK_ROOT set: Powertools traces)."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
PARSER_MODELS = "aws_lambda_powertools.utilities.parser.models"
#: a client cannot be made without these; boto3 pulls in s3transfer
CLIENT_MACHINERY = {"boto3", "botocore.session", "botocore.client", "botocore.endpoint", "s3transfer"}

IMPORT = """
import json, sys
import app
print(json.dumps(sorted(sys.modules)))
"""

INVOKE = """
import json, os, sys, types
import app
context = types.SimpleNamespace(function_name="coffer-CheckBackupFunction", memory_limit_in_mb=512,
                                invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
                                aws_request_id="test-request")
os.environ["_X_AMZN_TRACE_ID"] = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
try:
    app.lambda_handler({"job_id": "5e015350-b1c0-5b07-8835-3e424a8869eb"}, context)
    outcome = "returned"
except Exception as error:
    outcome = type(error).__name__
from coffer.entrypoints.lambda_runtime import logger
logger.info("after the first invocation")
patched = sorted(getattr(sys.modules.get("aws_xray_sdk.core.patcher"), "_PATCHED_MODULES", ()))
print("RESULT " + json.dumps({"outcome": outcome, "modules": sorted(sys.modules), "patched": patched}))
"""


def lambda_environment(handler: str, **extra: str) -> dict[str, str]:
    """Lambda's variables and the template's required ones; Powertools traces when LAMBDA_TASK_ROOT is set."""
    code = ROOT / "functions" / handler
    return {"PATH": os.environ.get("PATH", ""), "LAMBDA_TASK_ROOT": str(code),
            "AWS_LAMBDA_FUNCTION_NAME": f"coffer-{handler}", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "test", "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "CATALOG_TABLE": "catalog", "VAULT_BUCKET": "vault", "WORK_BUCKET": "work",
            "VAULT_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/k", "POWERTOOLS_SERVICE_NAME": "coffer",
            "POWERTOOLS_METRICS_NAMESPACE": "Coffer", "PYTHONPATH": str(code),
            "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:coffer-notifications", **extra}


def run(handler: str, script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT / "functions" / handler, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize("handler", HANDLERS)
def test_importing_a_handler_leaves_tracing_and_clients_to_its_first_invocation(handler: str) -> None:
    modules = set(json.loads(run(handler, IMPORT, lambda_environment(handler)).stdout.splitlines()[-1]))
    assert not {m for m in modules if m.split(".")[0] == "aws_xray_sdk"}
    assert not CLIENT_MACHINERY & modules
    assert {m for m in modules if m.startswith(PARSER_MODELS + ".")} <= {f"{PARSER_MODELS}.event_bridge"}
    assert "aws_lambda_powertools.utilities.parser.envelopes" not in modules


# ---- the first invocation: an AWS that answers {} at once, an X-Ray daemon that keeps what it receives ----------
class _EmptyAnswers(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EmptyAnswers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def daemon() -> Iterator[socket.socket]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(5)
    yield udp
    udp.close()


def documents(udp: socket.socket, count: int) -> list[dict[str, Any]]:
    """X-Ray's UDP datagrams: a header line, then one segment document."""
    return [json.loads(udp.recv(65536).split(b"\n", 1)[1]) for _ in range(count)]


def test_the_first_invocation_is_traced_and_logged_with_the_lambda_context(endpoint: str,
                                                                            daemon: socket.socket) -> None:
    address = f"127.0.0.1:{daemon.getsockname()[1]}"
    env = lambda_environment("check_backup", AWS_ENDPOINT_URL=endpoint, AWS_XRAY_DAEMON_ADDRESS=address)
    done = run("check_backup", INVOKE, env)
    result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert result["outcome"] == "NotFound"  # the catalog (the local endpoint) has no such job
    assert "aws_xray_sdk.core" in result["modules"] and result["patched"] == ["botocore"]
    sent = {doc["name"]: doc for doc in documents(daemon, 2)}
    handler = sent["## lambda_handler"]
    assert handler["annotations"] == {"ColdStart": True, "Service": "coffer"}
    assert handler["cause"]["exceptions"][0]["type"] == "NotFound"
    call = sent["dynamodb"]
    assert call["namespace"] == "aws" and call["aws"]["operation"] == "GetItem"
    assert call["parent_id"] == handler["id"]
    assert call["trace_id"] == handler["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    log = next(json.loads(line) for line in done.stdout.splitlines() if "after the first invocation" in line)
    assert log["cold_start"] is True and log["function_request_id"] == "test-request"
    assert log["function_name"] == "coffer-CheckBackupFunction" and log["service"] == "coffer"


def test_with_tracing_off_the_x_ray_sdk_is_never_imported(endpoint: str) -> None:
    # as on the twin or in a test (no LAMBDA_TASK_ROOT), and as POWERTOOLS_TRACE_DISABLED says in Lambda
    outside = lambda_environment("check_backup", AWS_ENDPOINT_URL=endpoint)
    del outside["LAMBDA_TASK_ROOT"]
    for env in (outside, lambda_environment("check_backup", AWS_ENDPOINT_URL=endpoint,
                                            POWERTOOLS_TRACE_DISABLED="true")):
        done = run("check_backup", INVOKE, env)
        result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
        assert result["outcome"] == "NotFound"
        assert not [m for m in result["modules"] if m.startswith("aws_xray_sdk")]
        assert "botocore.client" in result["modules"]  # the call was made: the client exists, untraced
