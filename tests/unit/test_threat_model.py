"""docs/THREAT_MODEL.md names a test for every line: each test it names exists, so the page cannot promise what
nothing checks any more."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_the_threat_model_names_exists() -> None:
    named = set(re.findall(r"`(test_\w+)(?:\[[^\]]*\])?`", (ROOT / "docs" / "THREAT_MODEL.md").read_text()))
    assert len(named) > 30
    defined = {m for path in (ROOT / "tests").rglob("test_*.py")
               for m in re.findall(r"^def (test_\w+)\(", path.read_text(), flags=re.MULTILINE)}
    assert named <= defined, sorted(named - defined)
