"""Helpers every command group shares."""

from __future__ import annotations

from pathlib import Path


def project_root(value: str | None) -> Path:
    root = Path(value or ".").resolve()
    if not (root / "template.yaml").is_file():
        raise SystemExit(f"coffer: --project: no template.yaml in {root} (run from the project root or pass --project)")
    return root
