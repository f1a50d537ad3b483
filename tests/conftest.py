"""moto is set up in one place: the twin deploys template.yaml itself, so tests and template cannot disagree.

Two tiers (docs/contributing.md). A test is in the ``twin`` tier when it runs on the emulator or runs Coffer as a
process of its own: it gets a twin from the ``twins`` factory (tests/twins.py) or a moto server, directly or
through a fixture; or its module deploys a twin, starts moto or runs the ``coffer`` command in a process
(tests/tiers.py says exactly how). A contract test's in-memory side stays in the fast tier. The marker is added
here, at collection: ``pytest -m "not twin"`` is the fast tier, and it cannot deploy a twin by mistake
(``_the_fast_tier_deploys_no_twin``). The fast tier is collected first, so a unit failure shows in seconds.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tiers import TWIN, in_twin_tier

if TYPE_CHECKING:
    from twins import Twins

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the twin tier; run the fast tier first (a stable sort: each module's own order is kept)."""
    for item in items:
        if in_twin_tier(item):
            item.add_marker(TWIN)
    items.sort(key=lambda item: item.get_closest_marker(TWIN) is not None)


def _cpu_seconds() -> float:
    """CPU seconds of this process (every thread: moto runs executions in threads) and its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """With ``COFFER_TEST_CPU=<directory>``: each test's CPU seconds (setup, call and teardown) and wall seconds,
    one JSON line per test in ``<directory>/<worker>.jsonl`` (bench/suite_cpu.py sums them). On a shared machine
    wall time says little; CPU time is what a test costs."""
    directory = os.environ.get("COFFER_TEST_CPU")
    if not directory:
        yield
        return
    cpu, wall = _cpu_seconds(), time.monotonic()
    yield
    record = {"test": item.nodeid, "cpu": round(_cpu_seconds() - cpu, 3), "wall": round(time.monotonic() - wall, 3),
              "twin": item.get_closest_marker(TWIN) is not None}
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(directory).mkdir(parents=True, exist_ok=True)
    with (Path(directory) / f"{worker}.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


@pytest.fixture(autouse=True)
def _the_fast_tier_deploys_no_twin(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test outside the twin tier that deploys a twin fails at once, naming the fixture that would mark it."""
    twin_module = sys.modules.get("coffer_twin.twin")
    if request.node.get_closest_marker(TWIN) is not None or twin_module is None:
        yield
        return

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError(f"{request.node.nodeid} deploys a twin outside the twin tier: get it from the "
                             "`twins` fixture (tests/twins.py), which marks the test `twin`")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(twin_module.Twin, "deploy", refuse)
        yield


@pytest.fixture(scope="session")
def twins() -> Iterator[Twins]:
    """This worker's twins (tests/twins.py): shared by configuration, or fresh."""
    from twins import Twins  # here, not at the top: the fast tier never imports moto's Step Functions

    factory = Twins(ROOT)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(autouse=True, scope="session")
def _service_models_parsed_once() -> Iterator[None]:
    """Every botocore session of the test process shares one data loader (tests/shared_models.py says why)."""
    from shared_models import shared_service_models

    with shared_service_models():
        yield


@pytest.fixture(autouse=True, scope="session")
def _quiet_emulator() -> Iterator[None]:
    # moto's Step Functions interpreter logs every failed state at ERROR; the tests assert outcomes instead.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    yield


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def create_catalog_table() -> Callable[[Any, str], None]:
    """``create_catalog_table(dynamodb_client, name)``: the catalog table exactly as template.yaml declares its
    keys and index, for tests that run the services on plain moto without deploying the twin."""
    from coffer_twin.cfn_yaml import load_template

    declared = load_template(ROOT / "template.yaml")["Resources"]["CatalogTable"]["Properties"]
    shape = {key: declared[key] for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")}

    def create(dynamodb: Any, name: str) -> None:
        dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **shape)

    return create
