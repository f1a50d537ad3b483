"""`coffer legalhold ...`: legal holds on recovery points (AWS Backup's CreateLegalHold / ReleaseLegalHold)."""

from __future__ import annotations

import argparse
from typing import Any

from coffer.domain.legal_holds import CreateLegalHoldRequest
from coffer.domain.validation import parse_model
from coffer_cli.commands.common import add_stack_option
from coffer_cli.commands.output import add_output_option, print_document, print_json, print_rows
from coffer_cli.commands.vault_context import vault_context


def _create(args: argparse.Namespace) -> int:
    selection: dict[str, Any] = {}
    if args.recovery_point:
        selection["RecoveryPointIds"] = args.recovery_point
    if args.vault:
        selection["VaultNames"] = args.vault
    if args.from_date or args.to_date:
        selection["DateRange"] = {"FromDate": args.from_date, "ToDate": args.to_date}
    request = parse_model(CreateLegalHoldRequest, {
        "Title": args.title, "Description": args.description or "", "RecoveryPointSelection": selection,
        "IdempotencyToken": args.token})
    hold = vault_context(args).holds().create(request)
    print_json(hold.model_dump(mode="json"))
    return 0


def _list(args: argparse.Namespace) -> int:
    holds = list(vault_context(args).holds().list())
    print_rows(args, ["legal hold", "status", "title", "created", "recovery points", "objects held"],
               [(h.legal_hold_id, h.status.value, h.title, h.creation_date.isoformat(timespec="seconds"),
                 len(h.recovery_point_ids), h.objects_held) for h in holds],
               [h.model_dump(mode="json") for h in holds])
    return 0


def _describe(args: argparse.Namespace) -> int:
    print_document(args, vault_context(args).holds().get(args.hold_id).model_dump(mode="json"))
    return 0


def _release(args: argparse.Namespace) -> int:
    hold = vault_context(args).holds().release(args.hold_id, args.reason)
    print_json(hold.model_dump(mode="json"))
    return 0


def register(commands: Any) -> None:
    holds = commands.add_parser("legalhold", help="legal holds: S3 legal holds on recovery points' objects")
    sub = holds.add_subparsers(dest="legalhold_command", required=True)
    create = sub.add_parser("create", help="hold recovery points (by id, or by vault and creation date range)")
    create.add_argument("--title", required=True)
    create.add_argument("--description")
    create.add_argument("--recovery-point", action="append", default=[], help="a recovery point id (repeatable)")
    create.add_argument("--vault", action="append", default=[], help="with --from/--to: a vault (repeatable)")
    create.add_argument("--from", dest="from_date", help="creation date range start (ISO 8601, with time zone)")
    create.add_argument("--to", dest="to_date", help="creation date range end (ISO 8601, with time zone)")
    create.add_argument("--token", help="idempotency token: the same token returns the same hold")
    create.set_defaults(run=_create)
    add_list(sub, "list")
    describe = sub.add_parser("describe", help="one legal hold")
    describe.add_argument("hold_id")
    add_output_option(describe, default="json")
    describe.set_defaults(run=_describe)
    release = sub.add_parser("release", help="release a hold (objects another hold covers stay held)")
    release.add_argument("hold_id")
    release.add_argument("--reason", required=True, help="why (AWS Backup's CancelDescription)")
    release.set_defaults(run=_release)
    for parser in (create, describe, release):
        add_stack_option(parser)


def add_list(sub: Any, name: str) -> None:
    parser = sub.add_parser(name, help="every legal hold, newest first")
    add_output_option(parser)
    add_stack_option(parser)
    parser.set_defaults(run=_list)
