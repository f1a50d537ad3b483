"""The two tiers hold: what runs on the emulator or as a process is marked `twin`, and the fast tier cannot deploy
a twin even by mistake (tests/tiers.py, tests/conftest.py)."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
from tiers import TWIN, module_runs_twins, tier_of

import coffer_twin


def module(name: str) -> ModuleType:
    return importlib.import_module(name)


def test_a_test_outside_the_twin_tier_that_deploys_a_twin_fails_naming_the_fixture(request: pytest.FixtureRequest
                                                                                   ) -> None:
    assert request.node.get_closest_marker(TWIN) is None
    with pytest.raises(AssertionError, match="deploys a twin outside the twin tier: get it from the `twins` fixture"):
        coffer_twin.Twin.deploy(coffer_twin.__path__[0])  # refused before anything is deployed


@pytest.mark.parametrize("name", [
    "integration.test_sample_events",  # each sample deploys its own twin (invoke_sample)
    "cli.test_local_invoke",  # `coffer local invoke` as a process
    "cli.test_cli_errors",  # the command as a process, and moto servers
    "scenario.test_demo",  # `coffer local demo` as a process
    "contract.test_resource_adapters",  # moto alone
    "integration.test_twin_deploy",  # Twin.deploy itself
])
def test_a_module_that_deploys_starts_moto_or_runs_the_command_is_in_the_twin_tier(name: str) -> None:
    assert module_runs_twins(module(name))
    assert tier_of([], module(name)) == TWIN


@pytest.mark.parametrize("fixture", ["twins", "moto_server", "create_catalog_table"])
def test_a_test_using_an_emulator_fixture_is_in_the_twin_tier_wherever_it_is(fixture: str) -> None:
    assert tier_of(["tmp_path", fixture], module("unit.test_jobs")) == TWIN


def test_unit_tests_and_the_in_memory_side_of_a_contract_are_fast() -> None:
    assert not module_runs_twins(module("unit.test_jobs"))
    assert tier_of(["tmp_path"], module("unit.test_jobs")) == "fast"
    contract = module("contract.test_catalog_port")
    assert tier_of(["ports"], contract, {"ports": "memory"}) == "fast"
    assert tier_of(["ports"], contract, {"ports": "moto"}) == TWIN
    assert tier_of(["bucket"], module("contract.test_object_lock_contract"), {"bucket": "strict"}) == "fast"
    # a parameter that merely says "memory" beside moto is still on moto
    assert tier_of(["a", "b"], contract, {"a": "memory", "b": "moto"}) == TWIN
