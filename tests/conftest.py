"""moto is set up in one place: the twin deploys template.yaml itself, so tests and template cannot disagree.

Two tiers (docs/contributing.md). A test is in the ``twin`` tier when it runs on the emulator or runs Coffer as a
process of its own: it gets a twin from the ``twins`` factory (tests/twins.py) or a moto server, directly or
through a fixture; or its module deploys a twin, starts moto or runs the ``coffer`` command in a process
(tests/tiers.py says exactly how). A contract test's in-memory side stays in the fast tier. The marker is added
here, at collection: ``pytest -m "not twin"`` is the fast tier, and it cannot deploy a twin by mistake
(``_the_fast_tier_deploys_no_twin``). The fast tier is collected first, so a unit failure shows in seconds.
"""

from __future__ import annotations

import logging
import sys
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
