"""`coffer backup start` (and `coffer start-backup-job`, its AWS Backup name): an on-demand backup of one
resource, with AWS Backup's StartBackupJob fields.

The request is checked here (every bad field named) and put on the default event bus as a StartBackupJob
event, the path any producer uses; the Backup workflow makes one job per IdempotencyToken, so repeating the
command with the same token never makes a second job. Without --idempotency-token a new one is made and
printed: repeat the command with it to retry safely.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from coffer.domain.input_rules.gates import check_backup_request
from coffer.domain.jobs import Job
from coffer.domain.requests import StartBackupJobRequest
from coffer.domain.validation import parse_model
from coffer_cli.commands.common import add_stack_option, aws_map, key_value_pairs, open_stack
from coffer_cli.commands.requests import add_wait_options, submit


def request_detail(args: argparse.Namespace) -> dict[str, Any]:
    detail: dict[str, Any] = {"ResourceArn": args.resource_arn, "BackupVaultName": args.vault,
                              "IdempotencyToken": args.idempotency_token or str(uuid.uuid4())}
    lifecycle = aws_map(args.lifecycle, "--lifecycle", numbers=True) if getattr(args, "lifecycle", None) else {}
    lifecycle.update({k: v for k, v in (("DeleteAfterDays", args.delete_after_days),
                                        ("MoveToColdStorageAfterDays", args.cold_after_days)) if v is not None})
    if lifecycle:
        detail["Lifecycle"] = lifecycle
    for key, value in (("StartWindowMinutes", args.start_window_minutes),
                       ("CompleteWindowMinutes", args.complete_window_minutes)):
        if value is not None:
            detail[key] = value
    tags = aws_map(args.recovery_point_tags, "--recovery-point-tags") if getattr(args, "recovery_point_tags", None) \
        else {}
    tags.update(key_value_pairs(args.tag, "--tag"))
    if tags:
        detail["RecoveryPointTags"] = tags
    if getattr(args, "backup_options", None):
        detail["BackupOptions"] = aws_map(args.backup_options, "--backup-options")
    if getattr(args, "iam_role_arn", None):
        detail["IamRoleArn"] = args.iam_role_arn
    if getattr(args, "continuous", False):
        detail["EnableContinuousBackup"] = True
    return detail


def _ended(job: Job) -> dict[str, Any]:
    return {"recovery_point_id": job.recovery_point_id}


def start(args: argparse.Namespace) -> int:
    detail = request_detail(args)
    request = parse_model(StartBackupJobRequest, detail, prefix="")  # every bad field named, before anything is sent
    stack, deps = open_stack(args)
    # the same rules the Backup workflow's first step applies, so a refusal is seen here, at once
    check_backup_request(request, deps.settings.home)
    return submit(args, stack, deps, "StartBackupJob", detail, _ended)


def add_start_arguments(start_parser: argparse.ArgumentParser) -> None:
    """Coffer's option names and AWS Backup's (`aws backup start-backup-job`) side by side."""
    start_parser.add_argument("--resource-arn", required=True)
    start_parser.add_argument("--vault", "--backup-vault-name", dest="vault", default="Default",
                              help="BackupVaultName (default: Default)")
    start_parser.add_argument("--idempotency-token",
                              help="repeat a token to retry safely (default: a new one, printed)")
    start_parser.add_argument("--delete-after-days", type=int)
    start_parser.add_argument("--cold-after-days", type=int, help="MoveToColdStorageAfterDays")
    start_parser.add_argument("--lifecycle", help="AWS Backup's Lifecycle: JSON, or MoveToColdStorageAfterDays=N,"
                                                  "DeleteAfterDays=N")
    start_parser.add_argument("--start-window-minutes", type=int)
    start_parser.add_argument("--complete-window-minutes", type=int)
    start_parser.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="recovery point tag")
    start_parser.add_argument("--recovery-point-tags", help="recovery point tags: JSON, or Key=Value,Key2=Value2")
    start_parser.add_argument("--backup-options", help="BackupOptions: JSON, or Key=Value")
    start_parser.add_argument("--iam-role-arn", help="accepted for AWS Backup compatibility; Coffer's functions "
                                                     "use their own roles")
    start_parser.add_argument("--continuous", action="store_true",
                              help="turn continuous backup (point-in-time recovery) on; --delete-after-days is the "
                                   "window (1-35, default 35)")
    add_wait_options(start_parser, "backup")
    add_stack_option(start_parser)
    start_parser.set_defaults(run=start)


def register(commands: Any) -> None:
    backup = commands.add_parser("backup", help="on-demand backup jobs")
    sub = backup.add_subparsers(dest="backup_command", required=True)
    add_start_arguments(sub.add_parser("start", help="back up one resource now (AWS Backup's StartBackupJob)"))
