"""Which tier a test is in (docs/contributing.md); tests/conftest.py marks the ``twin`` tier with this at collection.

A test is in the ``twin`` tier when it runs on the emulator or runs Coffer as a process of its own: it uses one of
``TWIN_FIXTURES`` (directly or through another fixture), or its module deploys a twin, starts moto or runs the
``coffer`` command as a process (a name of ``TWIN_ENTRY_POINTS`` among its globals, or ``subprocess`` and
``coffer_cli.cli`` together in it). A contract test whose parameters choose the in-memory side of a port
(``IN_MEMORY``, and not ``moto``) starts no emulator: it stays in the fast tier.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

__all__ = ["IN_MEMORY", "TWIN", "TWIN_ENTRY_POINTS", "TWIN_FIXTURES", "in_twin_tier", "module_runs_twins", "tier_of"]

TWIN = "twin"
#: names whose presence in a test module means its tests deploy a twin, start moto or run Coffer as a process
TWIN_ENTRY_POINTS = frozenset({"local_twin", "Twin", "invoke_sample", "run_invocation", "Shell", "LOCAL",
                               "mock_aws", "fake_aws_environment", "ThreadedMotoServer"})
#: fixtures that bring up the emulator: a test using one (directly or through another) is in the twin tier
TWIN_FIXTURES = frozenset({"twins", "moto_server", "create_catalog_table"})
#: a contract test's parameters that select the in-memory side of a port (no emulator)
IN_MEMORY = frozenset({"memory", "strict"})

_modules_seen: dict[str, bool] = {}


def module_runs_twins(module: ModuleType) -> bool:
    """Whether the module deploys a twin, starts moto or runs the ``coffer`` command as a process."""
    name = module.__name__
    if name not in _modules_seen:
        names = vars(module)
        found = bool(TWIN_ENTRY_POINTS & names.keys())
        if not found and "subprocess" in names:
            try:
                found = "coffer_cli.cli" in inspect.getsource(module)
            except OSError:  # a module without source: judged by its names alone
                found = False
        _modules_seen[name] = found
    return _modules_seen[name]


def tier_of(fixtures: Iterable[str], module: ModuleType | None, params: Mapping[str, Any] | None = None) -> str:
    """``"twin"`` or ``"fast"``, for a test using `fixtures` in `module` with parameters `params`."""
    if set(fixtures) & TWIN_FIXTURES:
        return TWIN
    if module is None or not module_runs_twins(module):
        return "fast"
    chosen = {value for value in (params or {}).values() if isinstance(value, str)}
    return "fast" if chosen & IN_MEMORY and "moto" not in chosen else TWIN


def in_twin_tier(item: Any) -> bool:
    """:func:`tier_of` for a collected pytest item."""
    callspec = getattr(item, "callspec", None)
    return tier_of(getattr(item, "fixturenames", ()), getattr(item, "module", None),
                   callspec.params if callspec is not None else None) == TWIN
