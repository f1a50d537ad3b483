"""The audit log's hash chain: every removed, altered, replaced or reordered record is reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from coffer.domain.audit import (
    EMPTY_HEAD,
    GENESIS,
    ChainHead,
    audit_key,
    next_record,
    parse_stored,
    stored_form,
    verify_chain,
)

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def chain(n: int) -> tuple[list[tuple[str, bytes]], ChainHead]:
    stored, head = [], EMPTY_HEAD
    for i in range(n):
        record = next_record(head, T0 + timedelta(minutes=i), "arn:aws:iam::1:role/op", "vault.lock.put", "Gold",
                             {"i": i})
        stored.append((audit_key(record.seq), stored_form(record)))
        head = ChainHead(record.seq, record.digest())
    return stored, head


def test_an_intact_chain_verifies_and_starts_at_genesis() -> None:
    stored, head = chain(5)
    report = verify_chain(stored, head)
    assert report.ok and report.records == 5 and report.last_verified == head
    first, _ = parse_stored(stored[0][1])
    assert first.seq == 1 and first.prev_hash == GENESIS


def test_a_removed_record_is_reported_by_number() -> None:
    stored, head = chain(5)
    del stored[2]
    report = verify_chain(stored, head)
    assert not report.ok
    assert any("record(s) 3 missing" in p for p in report.problems), report.problems


def test_a_removed_last_record_is_caught_by_the_chain_head() -> None:
    stored, head = chain(5)
    report = verify_chain(stored[:-1], head)
    assert any("5..5 missing" in p for p in report.problems), report.problems


def test_without_the_head_a_removed_tail_cannot_be_seen_and_the_report_says_so() -> None:
    stored, _ = chain(5)
    report = verify_chain(stored[:-1], None)
    assert report.ok and any("cannot be detected" in n for n in report.notes)


def test_an_altered_record_no_longer_matches_its_hash() -> None:
    stored, head = chain(4)
    document = json.loads(stored[1][1])
    document["record"]["details"] = {"i": 99}
    stored[1] = (stored[1][0], json.dumps(document).encode())
    report = verify_chain(stored, head)
    assert any("record 2" in p and "altered" in p for p in report.problems), report.problems


def test_a_record_replaced_with_a_rehashed_forgery_breaks_the_chain() -> None:
    stored, head = chain(4)
    forged = next_record(ChainHead(1, "f" * 64), T0, "attacker", "vault.lock.delete", "Gold", {})
    stored[1] = (audit_key(2), stored_form(forged))  # self-consistent, but not chained to record 1
    report = verify_chain(stored, head)
    assert any("record 2 does not follow record 1" in p for p in report.problems), report.problems


def test_a_record_moved_to_another_key_is_reported() -> None:
    stored, head = chain(3)
    stored[2] = (audit_key(4), stored[2][1])
    report = verify_chain(stored, head)
    assert any("it says it is record 3" in p for p in report.problems), report.problems


def test_garbage_in_the_log_is_reported() -> None:
    stored, _ = chain(2)
    report = verify_chain([*stored, (audit_key(3), b"not json")], None)
    assert any("record 3" in p and "altered" in p for p in report.problems)
    assert any("not an audit record key" in p for p in verify_chain([("audit/x", b"{}")], None).problems)


def test_a_record_past_the_head_is_an_append_in_flight_not_tampering() -> None:
    stored, _ = chain(3)
    report = verify_chain(stored, ChainHead(2, parse_stored(stored[1][1])[0].digest()))
    assert report.ok and any("past the chain head" in n for n in report.notes)


def test_a_head_whose_hash_differs_from_its_record_is_reported() -> None:
    stored, head = chain(3)
    assert verify_chain(stored, head).ok and not verify_chain(stored, ChainHead(3, "0" * 64)).ok


@pytest.mark.parametrize("n", [1, 2, 10])
def test_canonical_form_is_stable(n: int) -> None:
    first, _ = chain(n)
    second, _ = chain(n)
    assert first == second
