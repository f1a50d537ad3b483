"""What listing and describe verbs print: `--output table` (rich tables) or `--output json`.

On a terminal a table fits its width and folds long ARNs and ids rather than cutting them; piped (CI, `grep`,
a file) it is plain text at its natural width, one row per line, no colour, no trailing blanks.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table

TABLE, JSON = "table", "json"


def add_output_option(parser: argparse.ArgumentParser, default: str = TABLE) -> None:
    parser.add_argument("--output", "-o", choices=(TABLE, JSON), default=default,
                        help=f"table for people, json for scripts (default: {default})")


def console(file: TextIO | None = None) -> Console:
    """A console on `file` (stdout): colour and live displays only when it is a terminal."""
    stream = file or sys.stdout
    return Console(file=stream, highlight=False, soft_wrap=False)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    made = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for header in headers:
        made.add_column(header, overflow="fold")
    for row in rows:
        made.add_row(*("" if value is None else str(value) for value in row))
    return made


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], file: TextIO | None = None) -> None:
    out = console(file)
    rendered = table(headers, rows)
    if out.is_terminal:
        out.print(rendered)
        return
    # Not a terminal: as wide as the table needs (never cut to an assumed 80 columns), lines without padding.
    wide = Console(file=out.file, width=100_000, color_system=None, highlight=False)
    with wide.capture() as captured:
        wide.print(rendered)
    text = "\n".join(line.rstrip() for line in captured.get().splitlines())
    out.file.write(text + "\n")


def print_rows(args: argparse.Namespace, headers: Sequence[str], rows: Sequence[Sequence[object]],
               documents: Any) -> None:
    """A listing: its table, or `documents` (the full records, or AWS's response shape) as JSON."""
    if args.output == JSON:
        print_json(documents)
    else:
        print_table(headers, rows)


def print_document(args: argparse.Namespace, document: Mapping[str, Any]) -> None:
    """A describe: the record as JSON, or as a two-column table (nested values as compact JSON)."""
    if args.output == JSON:
        print_json(document)
        return
    print_table(["field", "value"], [(key, _cell(value)) for key, value in document.items()])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, separators=(", ", ": "))
    return str(value)
