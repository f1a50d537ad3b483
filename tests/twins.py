"""Where every test gets its twin: one factory per pytest worker (the session-scoped ``twins`` fixture).

moto's backends and the twin's patches are process-wide, so a worker holds one open twin at a time. The factory
keeps the worker's *shared* twin of a configuration (parameters, IAM enforced or not) open for every module that
asks for the same one, and closes it only when another configuration or a fresh twin is wanted.

- :meth:`Twins.shared`: for modules whose tests name their own resources and tokens and read only what they
  made, so another module's jobs, buckets and recovery points in the same twin cannot change their outcome.
  A module that needs something made once (a sample bucket, principals) passes ``prepare``: it runs once per
  twin, under its name, however many modules ask.
- :meth:`Twins.fresh`: a new twin for the block, for tests that assert on the whole catalog or the invocation
  counts, set the handlers' clock, or change the stack itself (its functions' environment, its parameters).
- :meth:`Twins.deploy`: :meth:`coffer_twin.Twin.deploy` of any project (the twin's own fixture apps), fresh too.

Any test that uses ``twins`` (directly or through a fixture) is in the ``twin`` tier (``pytest -m twin``); the
fast tier (``-m "not twin"``) refuses to deploy one (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coffer.domain.clock import Clock
from coffer_cli.local.session import LocalCoffer, local_twin
from coffer_twin import Twin

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["ROOT", "TwinConfig", "Twins"]


@dataclass(frozen=True)
class TwinConfig:
    """What makes two twins interchangeable: the template's parameters and whether IAM is enforced."""

    parameters: tuple[tuple[str, str], ...] = ()
    enforce_iam: bool = False

    @classmethod
    def of(cls, parameters: dict[str, str] | None = None, enforce_iam: bool = False) -> TwinConfig:
        return cls(tuple(sorted((parameters or {}).items())), enforce_iam)


@dataclass
class _Open:
    config: TwinConfig
    coffer: LocalCoffer
    stack: ExitStack
    prepared: dict[str, Any] = field(default_factory=dict)


class Twins:
    """The worker's twins (see the module docstring)."""

    def __init__(self, project_root: Path = ROOT) -> None:
        self.project_root = project_root
        self._open: _Open | None = None
        self.deploys = 0
        """twins deployed by this worker (shared and fresh), for the suite's own figures"""

    def shared(self, parameters: dict[str, str] | None = None, *, enforce_iam: bool = False,
               prepare: Callable[[LocalCoffer], Any] | None = None) -> tuple[LocalCoffer, Any]:
        """The worker's twin of this configuration (deployed now if another, or none, is open) and what
        `prepare` returned the first time it ran on it (``prepare`` runs once per twin, keyed by its name)."""
        config = TwinConfig.of(parameters, enforce_iam)
        if self._open is None or self._open.config != config:
            self.close()
            stack = ExitStack()
            try:
                coffer = stack.enter_context(local_twin(self.project_root, parameters=dict(config.parameters),
                                                        enforce_iam=enforce_iam))
            except BaseException:
                stack.close()
                raise
            self.deploys += 1
            self._open = _Open(config, coffer, stack)
        opened = self._open
        if prepare is None:
            return opened.coffer, None
        key = f"{prepare.__module__}.{prepare.__qualname__}"
        if key not in opened.prepared:
            opened.prepared[key] = prepare(opened.coffer)
        return opened.coffer, opened.prepared[key]

    @contextmanager
    def fresh(self, parameters: dict[str, str] | None = None, *, clock: Clock | None = None,
              enforce_iam: bool = False, project_root: Path | None = None) -> Iterator[LocalCoffer]:
        """A twin of its own for the block (the shared one, if open, is closed first)."""
        self.close()
        self.deploys += 1
        with local_twin(project_root or self.project_root, clock=clock, parameters=parameters,
                        enforce_iam=enforce_iam) as coffer:
            yield coffer

    @contextmanager
    def deploy(self, project_root: Path, **options: Any) -> Iterator[Twin]:
        """:meth:`Twin.deploy` of `project_root` for the block (the twin's own tests: fixture apps)."""
        self.close()
        self.deploys += 1
        with Twin.deploy(project_root, **options) as twin:
            yield twin

    def release(self) -> None:
        """Let a twin be deployed outside the factory (a helper that deploys its own: the sample events)."""
        self.close()

    def close(self) -> None:
        """Close the shared twin, if one is open."""
        opened, self._open = self._open, None
        if opened is not None:
            opened.stack.close()
