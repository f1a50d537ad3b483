"""`coffer plan validate|diff|apply|export|list|delete|runs`: backup plans as code.

Files are Coffer plan files (YAML or JSON) or AWS Backup's own JSON (CreateBackupPlan / CreateBackupSelection
inputs, or their bare BackupPlan / BackupSelection bodies), several at once: one plan and its selections.
Everything but `validate` works against a deployed stack, found by its CloudFormation outputs (--stack), in
an account or in the twin alike.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from coffer.adapters.aws_services.schedules import PlanSchedules
from coffer.adapters.catalog.plans import PlanCatalog
from coffer.domain.clock import SystemClock
from coffer.domain.errors import CofferError, InvalidInput
from coffer.domain.plans import PlanDocument, plan_notes, read_documents
from coffer.entrypoints.bootstrap import bootstrap
from coffer.services.audit_log import AuditLog
from coffer.services.plan_runs import summary_of
from coffer.services.plans import ApplyFailed, Changes, PlanService
from coffer.stack_outputs import StackRefs
from coffer_cli.commands.common import add_stack_option, aws_session, plan_rules, read_stack, stack_settings
from coffer_cli.commands.failures import CliError, ExitCode
from coffer_cli.commands.output import add_output_option, print_json, print_rows


def read_files(paths: list[str]) -> PlanDocument:
    """The plan the files describe; InvalidInput naming every bad field (and its file)."""
    documents: list[tuple[str, Any]] = []
    problems: list[str] = []
    for name in paths:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
            documents.append((name, yaml.safe_load(text)))
        except (OSError, yaml.YAMLError) as error:
            problems.append(f"{name}: cannot be read as YAML or JSON ({error})")
    if problems:
        raise InvalidInput(problems)
    return read_documents(documents, now=SystemClock().now())


def service_for(args: argparse.Namespace) -> PlanService:
    session = aws_session(args)
    try:
        stack = read_stack(args.stack, session)
        outputs = stack.outputs
        refs = StackRefs.from_outputs(args.stack, outputs)
        rules = plan_rules(outputs, session)
    except InvalidInput as error:
        raise CliError("; ".join(error.problems), ExitCode.SETUP) from None
    return PlanService(PlanCatalog(session.client("dynamodb"), refs.catalog_table),
                       PlanSchedules(session.client("scheduler"), refs.schedule_group), refs, SystemClock(), rules,
                       audit=plan_audit(outputs, stack.parameters, session))


def plan_audit(outputs: dict[str, str], parameters: dict[str, str], session: Any) -> AuditLog:
    """The stack's audit chain, appended to by every applied plan change, as the caller (their ARN the actor);
    records are locked in the stack's VaultLockMode, as `coffer vault`'s are."""
    settings = replace(stack_settings(outputs, session),
                       vault_lock_mode=parameters.get("VaultLockMode") or "GOVERNANCE")
    deps = bootstrap(settings, session=session)
    return deps.audit_log(str(session.client("sts").get_caller_identity()["Arn"]))


def _fail(error: CofferError) -> int:
    if isinstance(error, InvalidInput):
        print("invalid:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
    else:
        print(f"coffer: {error}", file=sys.stderr)
    return 1


def _print_notes(plan: PlanDocument) -> None:
    for note in plan_notes(plan):
        print(f"  note: {note}")


def _validate(args: argparse.Namespace) -> int:
    try:
        plan = read_files(args.files)
    except InvalidInput as error:
        return _fail(error)
    rules = ", ".join(f"{r.rule_name} ({r.effective_schedule})" for r in plan.backup_plan.rules)
    print(f"plan {plan.name} is valid: {len(plan.backup_plan.rules)} rule(s): {rules}; "
          f"{len(plan.selections)} selection(s)")
    _print_notes(plan)
    return 0


def _diff(args: argparse.Namespace) -> int:
    try:
        plan = read_files(args.files)
        changes = service_for(args).changes(plan)
    except CofferError as error:
        return _fail(error)
    print("\n".join(changes.lines()))
    return 0


def _confirmer(args: argparse.Namespace, verb: str) -> Any:
    def confirm(changes: Changes) -> bool:
        print("\n".join(changes.lines()))
        if args.yes:
            return True
        if not sys.stdin.isatty():
            print(f"coffer: not a terminal: pass --yes to {verb}", file=sys.stderr)
            return False
        return input(f"{verb}? [y/N] ").strip().lower() in ("y", "yes")

    return confirm


def _apply(args: argparse.Namespace) -> int:
    try:
        plan = read_files(args.files)
        result = service_for(args).apply(plan, _confirmer(args, "apply"))
    except ApplyFailed as error:
        print(f"coffer: {error}", file=sys.stderr)
        return 1
    except CofferError as error:
        return _fail(error)
    if result.changes.empty:
        print("\n".join(result.changes.lines()))
        return 0
    if not result.applied:
        print("not applied")
        return 1
    print(f"applied plan {plan.name} (version {result.version}, id {plan.plan_id})")
    _print_notes(plan)
    return 0


def _delete(args: argparse.Namespace) -> int:
    try:
        result = service_for(args).delete(args.name, _confirmer(args, "delete"))
    except ApplyFailed as error:
        print(f"coffer: {error}", file=sys.stderr)
        return 1
    except CofferError as error:
        return _fail(error)
    print(f"deleted plan {args.name}" if result.applied else "not deleted")
    return 0 if result.applied else 1


def _export(args: argparse.Namespace) -> int:
    try:
        stored = service_for(args).export(args.name)
    except CofferError as error:
        return _fail(error)
    plan = stored.plan
    if args.format == "aws":
        documents = {"backup-plan.json": plan.create_backup_plan_input()}
        documents.update({f"selection-{s['BackupSelection']['SelectionName']}.json": s
                          for s in plan.create_backup_selection_inputs()})
        if args.output:
            out = Path(args.output)
            out.mkdir(parents=True, exist_ok=True)
            for name, document in documents.items():
                (out / name).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
                print(out / name)
        else:
            print_json({"CreateBackupPlan": documents.pop("backup-plan.json"),
                        "CreateBackupSelection": list(documents.values())})
        return 0
    text = json.dumps(plan.to_document(), indent=2) + "\n" if args.json else \
        yaml.safe_dump(plan.to_document(), sort_keys=False)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(args.output)
    else:
        print(text, end="")
    return 0


def _list(args: argparse.Namespace) -> int:
    service = service_for(args)
    now = service.clock.now()
    rows = []
    plans = list(service.list())
    for stored in plans:
        fires = service.next_fires(stored, now)
        rules = "; ".join(f"{r.rule_name}: {r.effective_schedule}" for r in stored.plan.backup_plan.rules)
        upcoming = [f for f in fires.values() if f is not None]
        rows.append((stored.plan.name, stored.plan.plan_id, stored.version,
                     stored.applied_at.isoformat(timespec="seconds"), rules, len(stored.plan.selections),
                     min(upcoming).isoformat() if upcoming else "-"))
    print_rows(args, ["plan", "id", "version", "applied", "rules", "selections", "next run"], rows,
               [{"name": p.plan.name, "version": p.version, "applied_at": p.applied_at.isoformat(),
                 "plan": p.plan.to_document()} for p in plans])
    return 0


def _runs(args: argparse.Namespace) -> int:
    service = service_for(args)
    runs = service.catalog.list_runs(args.name, limit=args.limit)
    if args.json:
        args.output = "json"
    print_rows(args, ["scheduled", "rule", "state", "selected", "started", "completed", "failed", "skipped",
                      "unsupported"],
               [(r.scheduled_time.isoformat(timespec="minutes"), r.rule_name, r.state.value, r.counts.selected,
                 r.counts.started, r.counts.completed, r.counts.failed, r.counts.skipped, r.counts.unsupported)
                for r in runs], [summary_of(r).model_dump(mode="json") for r in runs])
    return 0


def register(commands: Any) -> None:
    plan = commands.add_parser("plan", help="backup plans and selections (AWS Backup's JSON accepted)")
    sub = plan.add_subparsers(dest="plan_command", required=True)

    validate = sub.add_parser("validate", help="check plan files by AWS Backup's rules (offline)")
    validate.add_argument("files", nargs="+", help="plan file(s), CreateBackupPlan/CreateBackupSelection JSON, or -")
    validate.set_defaults(run=_validate)

    for name, helptext, run in (("diff", "what apply would change", _diff),
                                ("apply", "show the changes, then write the plan and its schedules", _apply)):
        command = sub.add_parser(name, help=helptext)
        command.add_argument("files", nargs="+", help="plan file(s) (one plan and its selections)")
        add_stack_option(command)
        if name == "apply":
            command.add_argument("--yes", action="store_true", help="apply without asking")
        command.set_defaults(run=run)

    export = sub.add_parser("export", help="a plan as a Coffer plan file, or as AWS Backup's JSON")
    export.add_argument("name")
    export.add_argument("--format", choices=("coffer", "aws"), default="coffer",
                        help="coffer: one plan file (YAML; --json for JSON); aws: CreateBackupPlan and "
                             "CreateBackupSelection inputs (with --output DIR: one file each)")
    export.add_argument("--json", action="store_true", help="coffer format as JSON instead of YAML")
    export.add_argument("--output", help="file (coffer) or directory (aws) to write instead of stdout")
    add_stack_option(export)
    export.set_defaults(run=_export)

    add_list(sub, "list")

    delete = sub.add_parser("delete", help="remove a plan and its schedules")
    delete.add_argument("name")
    delete.add_argument("--yes", action="store_true", help="delete without asking")
    add_stack_option(delete)
    delete.set_defaults(run=_delete)

    runs = sub.add_parser("runs", help="a plan's recent runs and their outcomes")
    runs.add_argument("name")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true", help="the same as --output json")
    add_output_option(runs)
    add_stack_option(runs)
    runs.set_defaults(run=_runs)


def add_list(sub: Any, name: str) -> None:
    listing = sub.add_parser(name, help="plans in the catalog, with their rules and next run")
    add_output_option(listing)
    add_stack_option(listing)
    listing.set_defaults(run=_list)
