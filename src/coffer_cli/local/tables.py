"""Plain-text tables for the terminal (no dependency for something this small)."""

from __future__ import annotations

from collections.abc import Sequence


def render(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[["" if v is None else str(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(v.ljust(w) for v, w in zip(cells[0], widths, strict=True)), line]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells[1:]]
    return "\n".join(out)
