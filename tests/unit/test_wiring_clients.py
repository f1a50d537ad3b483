"""The composition root (entrypoints/bootstrap.py) makes each SDK client when it is first used, once, whichever
thread gets there first."""

from __future__ import annotations

import copy
import threading
import time
from types import SimpleNamespace
from typing import Any

from coffer.adapters import aws
from coffer.entrypoints.bootstrap import bootstrap
from coffer.settings import Settings

SETTINGS = Settings(catalog_table="catalog", vault_bucket="vault", work_bucket="work",
                    vault_key_arn="arn:aws:kms:us-east-1:123456789012:key/k", region="us-east-1")


class CountingSession:
    """A boto3 Session stand-in that counts the clients made from it, each made slowly enough for threads to meet."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self.inside = 0
        self.most_inside = 0

    def client(self, service: str, region_name: str | None = None, config: Any = None) -> Any:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        time.sleep(0.01)
        self.made.append(service)
        self.inside -= 1
        return SimpleNamespace(service=service, region=region_name, config=config,
                               meta=SimpleNamespace(events=SimpleNamespace(register=lambda *_, **__: None)))


def test_building_the_graph_makes_no_client() -> None:
    session = CountingSession()
    root = bootstrap(SETTINGS, session=session)  # type: ignore[arg-type]
    assert root.backup_jobs and root.restore_jobs and root.catalog and root.vault and root.work and root.sweeper
    assert session.made == []


def test_a_client_is_made_on_first_use_once_and_shared() -> None:
    session = CountingSession()
    deps = bootstrap(SETTINGS, session=session)  # type: ignore[arg-type]
    dynamodb = deps.client_for("dynamodb")
    assert dynamodb.service == "dynamodb" and dynamodb.region == "us-east-1"
    assert dynamodb.config is aws.retry_config()  # the adapters' retry policy, as before
    assert deps.client_for("dynamodb").service == "dynamodb" and deps.client_for("dynamodb") is dynamodb
    assert session.made == ["dynamodb"]


def test_threads_meeting_at_the_first_use_make_one_client_at_a_time() -> None:
    session = CountingSession()
    deps = bootstrap(SETTINGS, session=session)  # type: ignore[arg-type]
    start = threading.Barrier(8)

    def use(service: str) -> None:
        start.wait()
        assert deps.client_for(service).service == service

    threads = [threading.Thread(target=use, args=(service,)) for service in ["s3", "s3", "s3", "s3", "sts", "sts",
                                                                            "kms", "s3"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(session.made) == ["kms", "s3", "sts"]
    assert session.most_inside == 1  # a boto3 Session is not thread-safe: never two clients made at once


def test_a_copied_stand_in_neither_recurses_nor_makes_a_client() -> None:
    session = CountingSession()
    stand_in = bootstrap(SETTINGS, session=session).clients.lazy("s3")  # type: ignore[arg-type]
    copied = copy.copy(stand_in)
    assert copied is not stand_in and session.made == []


def test_a_client_pools_as_many_connections_as_copybatch_may_use_at_once() -> None:
    """CopyBatch's threads share one S3 client: with botocore's pool of 10, CopyConcurrency above 10 would drop and
    reopen connections (a new TLS handshake each)."""
    from coffer.adapters import aws
    from coffer.settings import MAX_COPY_CONCURRENCY

    assert aws.retry_config().max_pool_connections == MAX_COPY_CONCURRENCY
