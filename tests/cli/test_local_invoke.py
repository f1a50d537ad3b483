"""`coffer local invoke`, the twin of `sam local invoke`, run as a user's shell runs it: any event file or
stdin, SAM's --env-vars, notes and the function's log lines on stderr, its response alone on stdout."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from .conftest import ROOT, Shell, assert_one_line

EVENTS = ROOT / "events"
LOCAL = Shell(endpoint=None)  # no AWS at all: the twin is in the command's own process


def invoke(*argv: str, stdin: str | None = None) -> tuple[object, list[str]]:
    result = LOCAL.run("local", "invoke", *argv, stdin=stdin, timeout=600)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    return json.loads(result.stdout), result.stderr.splitlines()  # stdout is the response and nothing else


def test_an_event_file_outside_events_runs_alone_and_says_so(tmp_path: Path) -> None:
    mine = tmp_path / "my-backup.json"
    shutil.copy(EVENTS / "start_backup_job.json", mine)
    response, notes = invoke("StartBackupJobFunction", "-e", str(mine))
    assert isinstance(response, dict) and response["next"] == "objects" and not response["duplicate"]
    assert notes[0] == (
        "my-backup.json is not a sample listed in events/index.yaml: no events replayed first (a job or recovery "
        "point it names must already exist; the sample bucket and table do)")
    assert not [n for n in notes if n.startswith("replayed first")]


def test_a_listed_sample_names_its_function_and_lists_the_events_replayed_first() -> None:
    response, notes = invoke("-e", "events/complete_backup.json")
    assert isinstance(response, dict) and response["state"] == "COMPLETED"
    assert [n for n in notes if n.startswith("replayed first")] == [
        "replayed first: start_backup_job.json (StartBackupJobFunction)",
        "replayed first: list_batches.json (ListBatchesFunction)",
        "replayed first: copy_batch.json (CopyBatchFunction)"]


def test_stdin_takes_the_event_and_bus_puts_it_on_eventbridge() -> None:
    event = (EVENTS / "eventbridge_start_backup_job.json").read_text()
    response, notes = invoke("bus", "-e", "-", stdin=event)
    assert isinstance(response, list) and [r["status"] for r in response] == ["SUCCEEDED"]
    assert notes[0].startswith("stdin is not a sample listed in events/index.yaml")


def test_env_vars_override_what_the_template_declares_and_ignore_the_rest_as_sam_does(tmp_path: Path) -> None:
    (tmp_path / "env.json").write_text(json.dumps({
        "CheckBackupFunction": {"POLL_SECONDS": 7, "NOT_DECLARED": "x"},
        "Parameters": {"POLL_SECONDS": "3", "DECLARED_NOWHERE": "y"},
        "NoSuchFunction": {"A": "b"}}))
    response, notes = invoke("-e", "events/check_backup.json", "--env-vars", str(tmp_path / "env.json"))
    assert isinstance(response, dict) and response["wait_seconds"] == 7  # the function's own value wins
    assert "--env-vars: NoSuchFunction is not a function of template.yaml: ignored" in notes
    assert ("--env-vars: NOT_DECLARED is not declared for CheckBackupFunction in template.yaml: ignored (as sam "
            "local invoke does)") in notes
    assert "--env-vars: Parameters.DECLARED_NOWHERE is declared by no function in template.yaml: ignored" in notes


def test_parameters_of_env_vars_reach_every_function(tmp_path: Path) -> None:
    (tmp_path / "env.json").write_text(json.dumps({"Parameters": {"POLL_SECONDS": "3"}}))
    response, _ = invoke("-e", "events/check_backup.json", "--env-vars", str(tmp_path / "env.json"))
    assert isinstance(response, dict) and response["wait_seconds"] == 3


def test_a_function_error_prints_the_runtimes_error_payload_and_exits_1() -> None:
    result = LOCAL.run("local", "invoke", "CheckBackupFunction", "-e", "-", stdin="{}", timeout=600)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    payload = json.loads(result.stdout)
    assert payload["errorType"] == "InvalidInput" and payload["errorMessage"].startswith("invalid input: ")


def test_a_start_steps_refusal_is_its_result_with_a_one_line_cause_and_exits_0() -> None:
    """Start handlers return a refusal (the workflow's Refused state reads it) instead of raising: no stack trace
    ever reaches an execution's history."""
    result = LOCAL.run("local", "invoke", "StartBackupJobFunction", "-e", "-", stdin="{}", timeout=600)
    assert result.returncode == 0 and "Traceback" not in result.stderr + result.stdout
    payload = json.loads(result.stdout)
    assert payload["next"] == "refused"
    assert payload["error"] == {"Error": "InvalidInput", "Cause": "InvalidInput: event: Field required"}


@pytest.mark.parametrize(("argv", "stdin", "message"), [
    (["NoSuchFunction", "-e", "events/start_backup_job.json"], None,
     "FUNCTION: NoSuchFunction is not a function of template.yaml (one of: "),
    (["-e", "/nonexistent/event.json"], None, "--event: cannot read /nonexistent/event.json"),
    (["StartBackupJobFunction", "-e", "-"], "{not json", "--event: stdin is not JSON"),
    (["-e", "-"], "{}", "FUNCTION: name the function to invoke with stdin"),
    (["ListBatchesFunction", "-e", "events/start_backup_job.json"], None,
     "--event: start_backup_job.json is an event for StartBackupJobFunction, not ListBatchesFunction"),
    (["StartBackupJobFunction", "--env-vars", "events/index.yaml"], None, "--env-vars: events/index.yaml is not JSON"),
])
def test_command_line_mistakes_are_one_line_before_any_twin_is_deployed(argv: list[str], stdin: str | None,
                                                                        message: str) -> None:
    assert_one_line(LOCAL.run("local", "invoke", *argv, stdin=stdin), 2, message)


def test_the_capture_keeps_what_a_handler_logs_from_any_thread_and_lets_nothing_reach_stdout(
        capfd: pytest.CaptureFixture[str]) -> None:
    """In-process: a Powertools Logger made before the capture holds the stdout stream it found (as the
    handlers' logger does: in a `coffer` process that is the stream on file descriptor 1, which pytest's own
    capture replaces, so the test makes one); lines it writes from another thread inside the segment are kept,
    the rest dropped."""
    from aws_lambda_powertools import Logger

    from coffer_cli.commands.function_logs import StdoutCapture

    process_stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - fd 1 outlives the test
    logger = Logger(service="capture-test", stream=process_stdout)
    with StdoutCapture() as capture:
        print("the twin deploying")
        with capture.segment():
            worker = threading.Thread(target=lambda: logger.info("from a workflow thread"))
            worker.start()
            worker.join()
            print("from the handler")
        print("after the function")
    [kept] = capture.segments
    assert json.loads(kept.splitlines()[0])["message"] == "from a workflow thread"
    assert kept.splitlines()[1] == "from the handler"
    assert "twin deploying" not in kept and "after the function" not in kept
    assert capfd.readouterr().out == ""
