"""moto is set up in one place: the twin deploys template.yaml itself, so tests and template cannot disagree.

Two tiers (docs/contributing.md). A test is in the ``twin`` tier when it runs on the emulator or runs Coffer as a
process of its own: it gets a twin from the ``twins`` factory (tests/twins.py) or a moto server, directly or
through a fixture; or its module deploys a twin, starts moto or runs the ``coffer`` command in a process
(``TWIN_ENTRY_POINTS``, or ``subprocess`` and ``coffer_cli.cli`` together). A contract test's in-memory side
(``IN_MEMORY`` parameters) stays in the fast tier. The marker is added here, at collection:
``pytest -m "not twin"`` is the fast tier, and it cannot deploy a twin by mistake
(``_the_fast_tier_deploys_no_twin``). The fast tier is collected first, so a unit failure shows in seconds.
"""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from twins import Twins

ROOT = Path(__file__).resolve().parent.parent
TWIN = "twin"
#: names whose presence in a test module means its tests deploy a twin, start moto or run Coffer as a process
TWIN_ENTRY_POINTS = frozenset({"local_twin", "Twin", "invoke_sample", "run_invocation", "Shell", "LOCAL",
                               "mock_aws", "fake_aws_environment", "ThreadedMotoServer"})
#: fixtures that bring up the emulator: a test using one (directly or through another) is in the twin tier
TWIN_FIXTURES = frozenset({"twins", "moto_server", "create_catalog_table"})
#: a contract test's parameters that select the in-memory side of a port (no emulator): such a test is fast
IN_MEMORY = frozenset({"memory", "strict"})
_modules_seen: dict[str, bool] = {}


def _module_runs_twins(module: ModuleType) -> bool:
    name = module.__name__
    if name not in _modules_seen:
        names = vars(module)
        found = bool(TWIN_ENTRY_POINTS & names.keys())
        if not found and "subprocess" in names:
            try:
                found = "coffer_cli.cli" in inspect.getsource(module)
            except OSError:  # pragma: no cover - a module without source
                found = False
        _modules_seen[name] = found
    return _modules_seen[name]


def _in_twin_tier(item: pytest.Item) -> bool:
    fixtures = set(getattr(item, "fixturenames", ()))
    if fixtures & TWIN_FIXTURES:
        return True
    module = getattr(item, "module", None)
    if module is None or not _module_runs_twins(module):
        return False
    callspec = getattr(item, "callspec", None)
    chosen = {value for value in callspec.params.values() if isinstance(value, str)} if callspec else set()
    return not (chosen & IN_MEMORY and "moto" not in chosen)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the twin tier; run the fast tier first (a stable sort: each module's own order is kept)."""
    for item in items:
        if _in_twin_tier(item):
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
