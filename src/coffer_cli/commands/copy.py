"""`coffer copy start` (and `coffer start-copy-job`, its AWS Backup name): copy one recovery point to a vault
in another region or account, on demand, with AWS Backup's StartCopyJob fields.

The request is checked here (every bad field named) and put on the default event bus as a StartCopyJob event;
the Copy workflow makes one copy job per IdempotencyToken, so repeating the command with the same token never
makes a second copy. Without --idempotency-token a new one is made and printed: repeat the command with it to
retry safely. The destination is a vault ARN, arn:aws:backup:<region>:<account>:backup-vault:<name>; its Coffer
stack and the copy role of its account (member/template.yaml) must exist.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from coffer.domain.copies import StartCopyJobRequest
from coffer.domain.errors import NotFound
from coffer.domain.input_rules.gates import check_copy_request
from coffer.domain.jobs import Job
from coffer.domain.validation import parse_model
from coffer_cli.commands.common import add_stack_option, aws_map, open_stack
from coffer_cli.commands.failures import CliError
from coffer_cli.commands.requests import add_wait_options, submit


def request_detail(args: argparse.Namespace) -> dict[str, Any]:
    detail: dict[str, Any] = {"RecoveryPointArn": args.recovery_point,
                              "DestinationBackupVaultArn": args.destination_vault_arn,
                              "IdempotencyToken": args.idempotency_token or str(uuid.uuid4())}
    if args.source_vault:
        detail["SourceBackupVaultName"] = args.source_vault
    lifecycle = aws_map(args.lifecycle, "--lifecycle", numbers=True) if getattr(args, "lifecycle", None) else {}
    lifecycle.update({k: v for k, v in (("DeleteAfterDays", args.delete_after_days),
                                        ("MoveToColdStorageAfterDays", args.cold_after_days)) if v is not None})
    if lifecycle:
        detail["Lifecycle"] = lifecycle
    if getattr(args, "iam_role_arn", None):
        detail["IamRoleArn"] = args.iam_role_arn
    return detail


def _ended(job: Job) -> dict[str, Any]:
    return {"destination_recovery_point_id": job.destination.recovery_point_id if job.destination else None}


def start(args: argparse.Namespace) -> int:
    detail = request_detail(args)
    request = parse_model(StartCopyJobRequest, detail, prefix="")
    stack, deps = open_stack(args)
    try:
        rp = deps.catalog.get_recovery_point(request.recovery_point_id)
    except NotFound as error:
        raise CliError(f"--recovery-point-arn: {error}") from None
    check_copy_request(request, rp, deps.settings.home)  # the Copy workflow's first rules, so a refusal is seen here
    return submit(args, stack, deps, "StartCopyJob", detail, _ended)


def add_start_arguments(start_parser: argparse.ArgumentParser) -> None:
    """Coffer's option names and AWS Backup's (`aws backup start-copy-job`) side by side."""
    start_parser.add_argument("--recovery-point", "--recovery-point-arn", dest="recovery_point", required=True,
                              help="recovery point id or ARN (RecoveryPointArn)")
    start_parser.add_argument("--destination-vault-arn", "--destination-backup-vault-arn",
                              dest="destination_vault_arn", required=True,
                              help="arn:aws:backup:<region>:<account>:backup-vault:<name>")
    start_parser.add_argument("--source-vault", "--source-backup-vault-name", dest="source_vault",
                              help="SourceBackupVaultName (checked against the recovery point's vault)")
    start_parser.add_argument("--idempotency-token",
                              help="repeat a token to retry safely (default: a new one, printed)")
    start_parser.add_argument("--delete-after-days", type=int, help="the copy's own lifecycle")
    start_parser.add_argument("--cold-after-days", type=int, help="MoveToColdStorageAfterDays of the copy")
    start_parser.add_argument("--lifecycle", help="the copy's Lifecycle: JSON, or DeleteAfterDays=N,...")
    start_parser.add_argument("--iam-role-arn", help="accepted for AWS Backup compatibility")
    add_wait_options(start_parser, "copy")
    add_stack_option(start_parser)
    start_parser.set_defaults(run=start)


def register(commands: Any) -> None:
    copy = commands.add_parser("copy", help="copy jobs: recovery points to vaults in other regions or accounts")
    sub = copy.add_subparsers(dest="copy_command", required=True)
    add_start_arguments(sub.add_parser("start", help="copy one recovery point now (AWS Backup's StartCopyJob)"))
