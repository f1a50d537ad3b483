"""What the start verbs share: a checked request is put on its event bus (backups on the default bus, the path
every producer uses; restores and copies, authorised acts, on the stack's own bus, whose policy says who may put
them; the workflow's rule starts it), the job id is derived from its idempotency token, and with `--wait`
the job is followed to its end, or the refusal reported as soon as the workflow refuses the request.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import Job
from coffer.entrypoints.bootstrap import Root
from coffer_cli.commands.common import Stack, request_bus
from coffer_cli.commands.failures import CliError, ExitCode
from coffer_cli.commands.job_watch import Display, Follower, ProgressReader, RequestExecution, exit_code_of
from coffer_cli.commands.output import console, print_json

#: detail-type -> the stack output naming the state machine its EventBridge rule starts
STATE_MACHINE_OUTPUTS = {"StartBackupJob": "BackupStateMachineArn", "StartCopyJob": "CopyStateMachineArn",
                         "StartRestoreJob": "RestoreStateMachineArn"}


def add_wait_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--wait", action="store_true",
                        help=f"follow the {what} job to its end (progress on stderr, the result on stdout); a "
                             "refused request is reported as soon as the workflow refuses it")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits at most (default 3600)")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between two looks (default 2)")


#: requests that are authorised acts: put on the stack's own bus (its rules listen there, not on the default bus)
AUTHORISED_REQUESTS = frozenset({"StartRestoreJob", "StartCopyJob"})


def put_request(deps: Root, stack: Stack, detail_type: str, detail: dict[str, Any]) -> str:
    """PutEvents of one request on its bus; its event id."""
    bus = request_bus(stack.outputs) if detail_type in AUTHORISED_REQUESTS else "default"
    entry = deps.client_for("events").put_events(Entries=[{
        "Source": "coffer", "DetailType": detail_type, "Detail": json.dumps(detail),
        "EventBusName": bus}])["Entries"][0]
    if "EventId" not in entry:
        raise CliError(f"EventBridge refused the {detail_type} event ({entry.get('ErrorCode')}): "
                       f"{entry.get('ErrorMessage')}", ExitCode.AWS_REFUSED)
    return str(entry["EventId"])


def submit(args: argparse.Namespace, stack: Stack, deps: Root, detail_type: str, detail: dict[str, Any],
           ended: Callable[[Job], dict[str, Any]]) -> int:
    """Put the request; print its ids, or with --wait what it came to (`ended` adds the kind's own fields)."""
    put_at = deps.clock.now()
    event_id = put_request(deps, stack, detail_type, detail)
    job_id = job_id_for(detail["IdempotencyToken"])
    result: dict[str, Any] = {"event_id": event_id, "job_id": job_id, "idempotency_token": detail["IdempotencyToken"]}
    if not args.wait:
        print_json(result)
        return ExitCode.OK
    request = RequestExecution(stack.client("stepfunctions"), stack.output(STATE_MACHINE_OUTPUTS[detail_type]),
                               event_id, put_at)
    display = Display(console(sys.stderr), job_id)
    with display.shown():
        outcome = Follower(ProgressReader(deps), display, args.poll, args.timeout).follow(job_id, request)
    for note in outcome.notes:
        display.note(f"note: {note}")
    if outcome.refusal is not None:
        refusal = outcome.refusal
        result.update(state="REFUSED", error=refusal.error, message=refusal.message,
                      execution_arn=refusal.execution_arn)
        print_json(result)
        raise CliError(f"{detail_type} refused: {refusal.error}: {refusal.message}", ExitCode.FAILED)
    if outcome.job is None or outcome.timed_out:
        state = outcome.job.state.value if outcome.job else "not created yet"
        result["state"] = state
        print_json(result)
        hint = (f"follow it with: coffer jobs watch {job_id}" if request.arn else
                f"no workflow execution was found for event {event_id}: check that the {detail_type} rule of "
                f"stack {stack.name} is enabled")
        raise CliError(f"job {job_id} is {state} after {args.timeout:g} s: {hint}", ExitCode.STILL_RUNNING)
    job = outcome.job
    result.update(state=job.state.value, status_message=job.status_message, **ended(job))
    print_json(result)
    return exit_code_of(job.state)
