"""`coffer jobs ...`, `coffer recovery-points ...` and `coffer restore start`: read and act on a deployed stack."""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from coffer.domain.errors import CofferError
from coffer.domain.input_rules.gates import check_restore_request
from coffer.domain.requests import StartRestoreJobRequest
from coffer.domain.validation import parse_model
from coffer.services.jobs_common import job_id_for
from coffer_cli.commands.common import add_stack_option, key_value_pairs, print_json, stack_deps
from coffer_cli.local.tables import render


def _day(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise SystemExit(f"coffer: --day: '{value}' is not a date (YYYY-MM-DD)") from None


def _jobs_list(args: argparse.Namespace) -> int:
    deps, _ = stack_deps(args)
    jobs = list(deps.catalog.list_jobs(_day(args.day)))
    print(render(["job", "kind", "type", "state", "created", "resource", "message"],
                 [(j.job_id, j.kind.value, j.resource_type.value, j.state.value,
                   j.created_at.isoformat(timespec="seconds"), j.resource_arn, j.status_message) for j in jobs]))
    return 0


def _jobs_describe(args: argparse.Namespace) -> int:
    deps, _ = stack_deps(args)
    try:
        job = deps.catalog.get_job(args.job_id)
    except CofferError as error:
        raise SystemExit(f"coffer: {error}") from None
    print_json(job.model_dump(mode="json"))
    return 0


def _recovery_points_list(args: argparse.Namespace) -> int:
    deps, _ = stack_deps(args)
    points = list(deps.catalog.list_recovery_points(args.vault))
    print(render(["recovery point", "type", "status", "created", "bytes", "delete at", "resource"],
                 [(p.recovery_point_id, p.resource_type.value, p.status.value,
                   p.creation_date.isoformat(timespec="seconds"), p.backup_size_bytes,
                   p.delete_at.date() if p.delete_at else "never", p.resource_arn) for p in points]))
    return 0


def _restore_start(args: argparse.Namespace) -> int:
    """Put a StartRestoreJob event on the default bus (the Restore workflow's rule starts it)."""
    detail: dict[str, Any] = {"RecoveryPointArn": args.recovery_point,
                              "Metadata": key_value_pairs(args.metadata, "--metadata"),
                              "IdempotencyToken": args.token or str(uuid.uuid4())}
    try:
        request = parse_model(StartRestoreJobRequest, detail, prefix="")
        deps, _ = stack_deps(args)
        # the same rules the Restore workflow's first step applies, so a refusal is seen here, at once
        rp = deps.catalog.get_recovery_point(request.recovery_point_id)
        check_restore_request(request, rp.resource_type, deps.settings.home)
    except CofferError as error:
        raise SystemExit(f"coffer: {error}") from None
    entry = deps.client_for("events").put_events(Entries=[{
        "Source": "coffer", "DetailType": "StartRestoreJob", "Detail": json.dumps(detail)}])["Entries"][0]
    if "EventId" not in entry:
        raise SystemExit(f"coffer: EventBridge refused the event: {entry.get('ErrorMessage')}")
    print_json({"event_id": entry["EventId"], "job_id": job_id_for(detail["IdempotencyToken"]),
                "idempotency_token": detail["IdempotencyToken"]})
    return 0


def register(commands: Any) -> None:
    jobs = commands.add_parser("jobs", help="backup, copy and restore jobs of a deployed stack")
    sub = jobs.add_subparsers(dest="jobs_command", required=True)
    listing = sub.add_parser("list", help="jobs created on one day (UTC), newest first")
    listing.add_argument("--day", help="YYYY-MM-DD (default: today)")
    add_stack_option(listing)
    listing.set_defaults(run=_jobs_list)
    describe = sub.add_parser("describe", help="one job with its history of transitions")
    describe.add_argument("job_id")
    add_stack_option(describe)
    describe.set_defaults(run=_jobs_describe)

    points = commands.add_parser("recovery-points", help="recovery points of a vault")
    points_sub = points.add_subparsers(dest="rp_command", required=True)
    rp_list = points_sub.add_parser("list", help="recovery points of a vault, newest first")
    rp_list.add_argument("--vault", default="Default")
    add_stack_option(rp_list)
    rp_list.set_defaults(run=_recovery_points_list)

    restore = commands.add_parser("restore", help="restore jobs")
    restore_sub = restore.add_subparsers(dest="restore_command", required=True)
    start = restore_sub.add_parser("start", help="restore a recovery point into a new resource")
    start.add_argument("--recovery-point", required=True, help="recovery point id or ARN")
    start.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE",
                       help="restore metadata, e.g. DestinationBucketName=b NewBucket=true, or targetTableName=t")
    start.add_argument("--token", help="idempotency token (default: a new one); repeat it to retry safely")
    add_stack_option(start)
    start.set_defaults(run=_restore_start)
