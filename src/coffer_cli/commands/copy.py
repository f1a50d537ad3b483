"""`coffer copy start`: copy one recovery point to a vault in another region or account, on demand, with AWS
Backup's StartCopyJob fields.

The request is checked here (every bad field named) and put on the default event bus as a StartCopyJob event;
the Copy workflow makes one copy job per IdempotencyToken, so repeating the command with the same token never
makes a second copy. Without --idempotency-token a new one is made and printed: repeat the command with it to
retry safely. The destination is a vault ARN, arn:aws:backup:<region>:<account>:backup-vault:<name>; its Coffer
stack and the copy role of its account (member/template.yaml) must exist.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from typing import Any

from coffer.domain.copies import StartCopyJobRequest
from coffer.domain.errors import InvalidInput, NotFound
from coffer.domain.input_rules.gates import check_copy_request
from coffer.domain.validation import parse_model
from coffer.services.jobs_common import job_id_for
from coffer_cli.commands.common import add_stack_option, print_json, stack_deps


def request_detail(args: argparse.Namespace) -> dict[str, Any]:
    detail: dict[str, Any] = {"RecoveryPointArn": args.recovery_point,
                              "DestinationBackupVaultArn": args.destination_vault_arn,
                              "IdempotencyToken": args.idempotency_token or str(uuid.uuid4())}
    if args.source_vault:
        detail["SourceBackupVaultName"] = args.source_vault
    lifecycle = {k: v for k, v in (("DeleteAfterDays", args.delete_after_days),
                                   ("MoveToColdStorageAfterDays", args.cold_after_days)) if v is not None}
    if lifecycle:
        detail["Lifecycle"] = lifecycle
    return detail


def _start(args: argparse.Namespace) -> int:
    detail = request_detail(args)
    try:
        request = parse_model(StartCopyJobRequest, detail, prefix="")
    except InvalidInput as error:
        raise SystemExit(f"coffer: {error}") from None
    deps, _ = stack_deps(args)
    try:
        rp = deps.catalog.get_recovery_point(request.recovery_point_id)
    except NotFound as error:
        raise SystemExit(f"coffer: RecoveryPointArn: {error}") from None
    try:  # the same rules the Copy workflow's first step applies, so a refusal is seen here, at once
        check_copy_request(request, rp, deps.settings.home)
    except InvalidInput as error:
        raise SystemExit(f"coffer: {error}") from None
    entry = deps.client_for("events").put_events(Entries=[{
        "Source": "coffer", "DetailType": "StartCopyJob", "Detail": json.dumps(detail)}])["Entries"][0]
    if "EventId" not in entry:
        raise SystemExit(f"coffer: EventBridge refused the event: {entry.get('ErrorMessage')}")
    job_id = job_id_for(detail["IdempotencyToken"])
    result: dict[str, Any] = {"event_id": entry["EventId"], "job_id": job_id,
                              "idempotency_token": detail["IdempotencyToken"]}
    if args.wait:
        deadline = time.monotonic() + args.timeout
        while True:
            try:
                job = deps.catalog.get_job(job_id)
                if job.state.terminal:
                    result.update(state=job.state.value, status_message=job.status_message,
                                  destination_recovery_point_id=job.destination.recovery_point_id
                                  if job.destination else None)
                    break
            except NotFound:
                pass  # the workflow has not made the job yet (or refused the request: see its execution)
            if time.monotonic() > deadline:
                result["state"] = "UNKNOWN (still running or refused; see `coffer jobs describe`)"
                break
            time.sleep(args.poll)
    print_json(result)
    return 0 if result.get("state") in (None, "COMPLETED") else 1


def register(commands: Any) -> None:
    copy = commands.add_parser("copy", help="copy jobs: recovery points to vaults in other regions or accounts")
    sub = copy.add_subparsers(dest="copy_command", required=True)
    start = sub.add_parser("start", help="copy one recovery point now (AWS Backup's StartCopyJob)")
    start.add_argument("--recovery-point", required=True, help="recovery point id or ARN (RecoveryPointArn)")
    start.add_argument("--destination-vault-arn", required=True,
                       help="arn:aws:backup:<region>:<account>:backup-vault:<name>")
    start.add_argument("--source-vault", help="SourceBackupVaultName (checked against the recovery point's vault)")
    start.add_argument("--idempotency-token", help="repeat a token to retry safely (default: a new one, printed)")
    start.add_argument("--delete-after-days", type=int, help="the copy's own lifecycle")
    start.add_argument("--cold-after-days", type=int, help="MoveToColdStorageAfterDays of the copy")
    start.add_argument("--wait", action="store_true", help="wait until the copy job ends and print its state")
    start.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits at most")
    start.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)
    add_stack_option(start)
    start.set_defaults(run=_start)
