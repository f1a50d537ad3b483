"""`coffer restore start` (and `coffer start-restore-job`, its AWS Backup name): restore a recovery point into
a new resource, with AWS Backup's StartRestoreJob fields. The request is put on the default event bus as a
StartRestoreJob event (the Restore workflow's rule starts it); `--wait` follows the job to its end."""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from coffer.domain.input_rules.gates import check_restore_request
from coffer.domain.jobs import Job
from coffer.domain.requests import StartRestoreJobRequest
from coffer.domain.validation import parse_model
from coffer_cli.commands.common import add_stack_option, aws_map, open_stack
from coffer_cli.commands.requests import add_wait_options, submit


def request_detail(args: argparse.Namespace) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for value in args.metadata:
        metadata.update(aws_map(value, "--metadata"))
    detail: dict[str, Any] = {"RecoveryPointArn": args.recovery_point, "Metadata": metadata,
                              "IdempotencyToken": args.token or str(uuid.uuid4())}
    if getattr(args, "iam_role_arn", None):
        detail["IamRoleArn"] = args.iam_role_arn
    return detail


def _ended(job: Job) -> dict[str, Any]:
    return {"restore_target": job.restore_target}


def start(args: argparse.Namespace) -> int:
    detail = request_detail(args)
    request = parse_model(StartRestoreJobRequest, detail, prefix="")
    stack, deps = open_stack(args)
    rp = deps.catalog.get_recovery_point(request.recovery_point_id)  # NotFound named before anything is sent
    # the same rules the Restore workflow's first step applies, so a refusal is seen here, at once
    check_restore_request(request, rp.resource_type, deps.settings.home)
    return submit(args, stack, deps, "StartRestoreJob", detail, _ended)


def add_start_arguments(start_parser: argparse.ArgumentParser) -> None:
    """Coffer's option names and AWS Backup's (`aws backup start-restore-job`) side by side."""
    start_parser.add_argument("--recovery-point", "--recovery-point-arn", dest="recovery_point", required=True,
                              help="recovery point id or ARN")
    start_parser.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE",
                              help="restore metadata (repeatable), e.g. DestinationBucketName=b NewBucket=true, or "
                                   "targetTableName=t; also AWS's Key=V,Key2=V2 or a JSON object. "
                                   "`coffer get-recovery-point-restore-metadata` lists the keys")
    start_parser.add_argument("--token", "--idempotency-token", dest="token",
                              help="idempotency token (default: a new one); repeat it to retry safely")
    start_parser.add_argument("--iam-role-arn", help="accepted for AWS Backup compatibility")
    add_wait_options(start_parser, "restore")
    add_stack_option(start_parser)
    start_parser.set_defaults(run=start)


def register(commands: Any) -> None:
    restore = commands.add_parser("restore", help="restore jobs")
    sub = restore.add_subparsers(dest="restore_command", required=True)
    add_start_arguments(sub.add_parser("start", help="restore a recovery point into a new resource"))
