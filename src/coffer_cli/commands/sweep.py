"""`coffer sweep runs|show`: what the lifecycle sweep moved to cold storage, expired, skipped (and why) and which
blob versions it collected, run by run, from the catalog of a deployed stack (or the twin in-process)."""

from __future__ import annotations

import argparse
from typing import Any

from coffer.services.sweeper import Sweeper
from coffer_cli.commands.common import add_stack_option, stack_deps
from coffer_cli.commands.output import add_output_option, print_document, print_rows


def _sweeper(args: argparse.Namespace) -> Sweeper:
    deps, _ = stack_deps(args)
    return deps.sweeper


def _runs(args: argparse.Namespace) -> int:
    sweeper = _sweeper(args)
    summaries = [sweeper.summary(run) for run in sweeper.records.list_runs(args.limit)]
    print_rows(args, ["run", "state", "started", "moved", "expired", "skipped", "kept", "blobs deleted",
                      "bytes freed"],
               [(s.run_id, s.state, s.started_at, s.moved, s.expired, s.skipped, s.kept, s.blobs_deleted,
                 s.bytes_freed) for s in summaries], [s.model_dump(mode="json") for s in summaries])
    return 0


def _show(args: argparse.Namespace) -> int:
    sweeper = _sweeper(args)
    records = sweeper.records
    summary = sweeper.summary(records.get_run(args.run_id))
    document: dict[str, Any] = summary.model_dump(mode="json")
    outcomes: dict[str, dict[str, str]] = {"moved": {}, "expired": {}, "skipped": {}}
    blockers: dict[str, str] = {}
    for batch in records.batches(args.run_id, "BATCH"):
        for outcome, found in outcomes.items():
            found.update(batch.get(outcome, {}))
        blockers.update(batch.get("gc_blockers", {}))
    document.update(outcomes)
    document["gc_blockers"] = blockers
    document["blobs"] = [{"vault": b["vault"], "seq": b["seq"], "versions": b["versions"], "deleted": b["deleted"],
                          "kept": b["kept"], "bytes_freed": b["bytes_freed"]}
                         for b in records.batches(args.run_id, "BLOBS")]
    print_document(args, document)
    return 0


def register(commands: Any) -> None:
    sweep = commands.add_parser("sweep", help="the lifecycle sweep's runs (cold storage, expiry, blob collection)")
    sub = sweep.add_subparsers(dest="sweep_command", required=True)
    runs = sub.add_parser("runs", help="the newest sweep runs with their totals")
    runs.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    add_output_option(runs)
    add_stack_option(runs)
    runs.set_defaults(run=_runs)
    show = sub.add_parser("show", help="one run: what was moved, expired or skipped and why; blobs collected")
    show.add_argument("run_id", help="the run's id (its Sweep workflow execution name)")
    add_output_option(show, default="json")
    add_stack_option(show)
    show.set_defaults(run=_show)
