"""When an unchanged object's tags are read again (domain/tag_freshness.py)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from coffer.domain.tag_freshness import TAGS_READ_AT, is_refresh_day, refresh_slot, tags_due

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
KEYS = [f"data/{n:07d}.bin" for n in range(30_000)]


def read(at: datetime) -> dict[str, object]:
    return {"tags": {"a": "1"}, TAGS_READ_AT: at.isoformat()}


def test_each_key_is_refreshed_once_every_n_days_and_each_day_takes_about_one_nth() -> None:
    days = 30
    per_day = Counter(refresh_slot(key, days) for key in KEYS)
    assert len(per_day) == days
    # no spike: every day within 10 % of 1/N of the keys
    assert all(abs(n - len(KEYS) / days) < 0.1 * len(KEYS) / days for n in per_day.values()), per_day
    start = date(2026, 12, 1)
    for key in KEYS[:200]:
        assert sum(is_refresh_day(key, start + timedelta(days=d), days) for d in range(days)) == 1


def test_a_mark_noted_since_the_last_read_makes_the_tags_be_read_and_an_older_one_does_not() -> None:
    key = next(k for k in KEYS if not is_refresh_day(k, NOW.date(), 30))
    last = NOW - timedelta(days=2)
    assert tags_due(key, read(last), last + timedelta(seconds=1), NOW, 30, events_on=True)
    assert tags_due(key, read(last), last, NOW, 30, events_on=True)  # noted as the batch began: read again
    assert not tags_due(key, read(last), last - timedelta(seconds=1), NOW, 30, events_on=True)
    assert not tags_due(key, read(last), None, NOW, 30, events_on=True)


def test_without_events_or_a_read_recorded_the_tags_are_always_read() -> None:
    key = next(k for k in KEYS if not is_refresh_day(k, NOW.date(), 30))
    assert tags_due(key, read(NOW - timedelta(hours=1)), None, NOW, 30, events_on=False)
    assert tags_due(key, {"etag": "x"}, None, NOW, 30, events_on=True)  # indexed before tags were kept


def test_tags_read_n_days_ago_are_read_again_whatever_the_day() -> None:
    key = next(k for k in KEYS if not is_refresh_day(k, NOW.date(), 7))
    assert tags_due(key, read(NOW - timedelta(days=7)), None, NOW, 7, events_on=True)
    assert not tags_due(key, read(NOW - timedelta(days=6, hours=23)), None, NOW, 7, events_on=True)


def test_on_its_refresh_day_a_key_is_read_once_however_many_backups_run_that_day() -> None:
    key = next(k for k in KEYS if is_refresh_day(k, NOW.date(), 30))
    yesterday = {"tags": {}, TAGS_READ_AT: (NOW - timedelta(days=1)).isoformat()}
    assert tags_due(key, yesterday, None, NOW, 30, events_on=True)  # the day's first backup reads them
    this_morning = {"tags": {}, TAGS_READ_AT: NOW.replace(hour=0, minute=5).isoformat()}
    assert not tags_due(key, this_morning, None, NOW, 30, events_on=True)  # an hourly plan's later ones do not
    # ... unless a tag event came since
    assert tags_due(key, this_morning, NOW.replace(hour=0, minute=6), NOW, 30, events_on=True)


def test_s3s_own_tag_event_shape_parses_without_a_sequencer_or_a_size() -> None:
    """As S3 puts it on EventBridge (its documented example): the object's key, version and ETag only. A model that
    wanted Object Created's sequencer refused every real tag event, leaving tags stale until the refresh."""
    from coffer.domain.continuous import S3TagEvent

    event = S3TagEvent.model_validate({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Tags Added",
        "source": "aws.s3", "account": "111122223333", "time": "2021-11-12T00:00:00Z", "region": "ca-central-1",
        "resources": ["arn:aws:s3:::example-bucket"],
        "detail": {"version": "0", "bucket": {"name": "example-bucket"},
                   "object": {"key": "example-key", "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                              "etag": "d41d8cd98f00b204e9800998ecf8427f"},
                   "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012",
                   "source-ip-address": "1.2.3.4"}})
    assert (event.detail.bucket.name, event.detail.object.key) == ("example-bucket", "example-key")
