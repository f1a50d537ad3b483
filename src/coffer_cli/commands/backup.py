"""`coffer backup start`: an on-demand backup of one resource, with AWS Backup's StartBackupJob fields.

The request is checked here (every bad field named) and put on the default event bus as a StartBackupJob
event, the path any producer uses; the Backup workflow makes one job per IdempotencyToken, so repeating the
command with the same token never makes a second job. Without --idempotency-token a new one is made and
printed: repeat the command with it to retry safely.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from typing import Any

from coffer.domain.errors import InvalidInput, NotFound
from coffer.domain.input_rules.gates import check_backup_request
from coffer.domain.requests import StartBackupJobRequest
from coffer.domain.validation import parse_model
from coffer.services.jobs_common import job_id_for
from coffer_cli.commands.common import add_stack_option, key_value_pairs, print_json, stack_deps


def request_detail(args: argparse.Namespace) -> dict[str, Any]:
    detail: dict[str, Any] = {"ResourceArn": args.resource_arn, "BackupVaultName": args.vault,
                              "IdempotencyToken": args.idempotency_token or str(uuid.uuid4())}
    lifecycle = {k: v for k, v in (("DeleteAfterDays", args.delete_after_days),
                                   ("MoveToColdStorageAfterDays", args.cold_after_days)) if v is not None}
    if lifecycle:
        detail["Lifecycle"] = lifecycle
    for key, value in (("StartWindowMinutes", args.start_window_minutes),
                       ("CompleteWindowMinutes", args.complete_window_minutes)):
        if value is not None:
            detail[key] = value
    if args.tag:
        detail["RecoveryPointTags"] = key_value_pairs(args.tag, "--tag")
    if getattr(args, "continuous", False):
        detail["EnableContinuousBackup"] = True
    return detail


def _start(args: argparse.Namespace) -> int:
    detail = request_detail(args)
    try:
        request = parse_model(StartBackupJobRequest, detail, prefix="")
        deps, _ = stack_deps(args)
        # the same rules the Backup workflow's first step applies, so a refusal is seen here, at once
        check_backup_request(request, deps.settings.home)
    except InvalidInput as error:
        raise SystemExit(f"coffer: {error}") from None
    entry = deps.client_for("events").put_events(Entries=[{
        "Source": "coffer", "DetailType": "StartBackupJob", "Detail": json.dumps(detail)}])["Entries"][0]
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
                    result.update(state=job.state.value, recovery_point_id=job.recovery_point_id,
                                  status_message=job.status_message)
                    break
            except NotFound:
                pass  # the workflow has not made the job yet (or refused the request: see its execution)
            if time.monotonic() > deadline:
                result["state"] = "UNKNOWN (still running or refused; see `coffer jobs describe`)"
                break
            time.sleep(args.poll)
    print_json(result)
    return 0 if result.get("state") in (None, "COMPLETED", "PARTIAL") else 1


def register(commands: Any) -> None:
    backup = commands.add_parser("backup", help="on-demand backup jobs")
    sub = backup.add_subparsers(dest="backup_command", required=True)
    start = sub.add_parser("start", help="back up one resource now (AWS Backup's StartBackupJob)")
    start.add_argument("--resource-arn", required=True)
    start.add_argument("--vault", default="Default", help="BackupVaultName (default: Default)")
    start.add_argument("--idempotency-token", help="repeat a token to retry safely (default: a new one, printed)")
    start.add_argument("--delete-after-days", type=int)
    start.add_argument("--cold-after-days", type=int, help="MoveToColdStorageAfterDays")
    start.add_argument("--start-window-minutes", type=int)
    start.add_argument("--complete-window-minutes", type=int)
    start.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="recovery point tag")
    start.add_argument("--continuous", action="store_true",
                       help="turn continuous backup (point-in-time recovery) on; --delete-after-days is the window "
                            "(1-35, default 35)")
    start.add_argument("--wait", action="store_true", help="wait until the job ends and print its state")
    start.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits at most")
    start.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)
    add_stack_option(start)
    start.set_defaults(run=_start)
