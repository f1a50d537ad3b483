"""A Verify run's tally (domain/verify.py) keeps problems before information and counts the audit chain's breaks
apart: an attacker who plants a hundred objects, or an upgrade's hundred UNPINNED notes, cannot push a broken chain
out of what the run reports and alarms on."""

from __future__ import annotations

from coffer.domain.alerts import audit_chain_notice
from coffer.domain.verify import FINDINGS_KEPT, Finding, FindingKind, VerifyTally


def _finding(kind: FindingKind, n: int) -> Finding:
    return Finding(kind=kind, key=f"key-{n}", detail=f"{kind} {n}")


def test_a_broken_audit_chain_outlives_a_hundred_findings_that_came_before_it() -> None:
    notes = VerifyTally(items=1, findings=tuple(_finding(FindingKind.UNPINNED, n) for n in range(FINDINGS_KEPT)))
    planted = VerifyTally(items=1, problems=FINDINGS_KEPT, findings=tuple(
        _finding(FindingKind.UNOWNED, n) for n in range(FINDINGS_KEPT)))
    chain = VerifyTally(items=1, problems=2, audit_problems=2,
                        findings=(_finding(FindingKind.AUDIT_CHAIN, 1), _finding(FindingKind.AUDIT_CHAIN, 2)))
    total = VerifyTally().plus(notes).plus(planted).plus(chain)
    assert total.problems == FINDINGS_KEPT + 2 and total.audit_problems == 2  # counted, whatever was kept
    assert len(total.findings) == FINDINGS_KEPT and all(f.problem for f in total.findings)  # no note before a problem
    assert VerifyTally().plus(notes).plus(chain).findings[:2] == chain.findings  # problems first


def test_the_notice_counts_every_break_even_those_no_finding_kept() -> None:
    message = audit_chain_notice(["record 7 altered"], 3, 9, "coffer").message
    assert "3 problem(s)" in message and "Problem: record 7 altered" in message and "... and 2 more" in message
