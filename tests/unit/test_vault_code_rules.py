"""Where the code may touch Object Lock at all (a static check over layers/ and functions/).

With the workflow guard of tests/integration/test_vault_locks.py (every Object Lock call checked against
S3's rules at run time), this is how the suite shows Coffer never attempts what S3 refuses and moto allows.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for d in ("layers/coffer", "functions") for p in (ROOT / d).rglob("*.py"))


def files_using(pattern: str) -> set[str]:
    regex = re.compile(pattern)
    return {str(p.relative_to(ROOT)) for p in SOURCES if regex.search(p.read_text(encoding="utf-8"))}


def test_only_the_vault_adapter_changes_retention_or_passes_the_governance_bypass() -> None:
    assert files_using(r"put_object_retention\(") == {"layers/coffer/adapters/vault/s3_vault.py"}
    assert files_using(r"BypassGovernanceRetention\s*=") == {"layers/coffer/adapters/vault/s3_vault.py"}


def test_only_the_audited_operator_command_bypasses_governance() -> None:
    callers = files_using(r"\.delete_version_bypassing_governance\(")
    assert callers == {"layers/coffer/services/vault_admin.py"}
    source = (ROOT / "layers/coffer/services/vault_admin.py").read_text(encoding="utf-8")
    bypass = source[source.index("def bypass_governance"):]
    bypass = bypass[:bypass.index("\n    def ", 1)]
    # the audit record is appended before the first deletion
    assert bypass.index("self._audit.append(") < bypass.index("delete_version_bypassing_governance")
