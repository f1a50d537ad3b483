"""Process environment for the twin: fake credentials, and each function's Lambda environment.

``os.environ`` is one per process while Step Functions Map states invoke handlers from several threads,
so :class:`EnvironmentGate` lets invocations that need the same environment run together and makes one
that needs a different environment wait until the others are done (a shared/exclusive lock keyed by
the environment). All Coffer functions share one environment, so in practice nothing waits.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

__all__ = ["EnvironmentGate", "fake_aws_environment"]

_REMOVED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL")


@contextmanager
def fake_aws_environment(region: str) -> Iterator[None]:
    """Set fake credentials and the region; restore every touched variable afterwards."""
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
    saved = {name: os.environ.get(name) for name in (*values, *_REMOVED)}
    for name in _REMOVED:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        _restore(saved)


def _restore(saved: Mapping[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


class EnvironmentGate:
    """Apply a function's environment to ``os.environ`` for the duration of its invocations.

    Invocations needing the environment already applied join it; one needing another waits until the
    others end. A handler that synchronously invokes a function with another environment (same thread)
    swaps it in once it is the only one running, and gets its own environment back afterwards.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._active = 0
        self._current: frozenset[tuple[str, str]] | None = None
        self._saved: dict[str, str | None] = {}
        #: values from before the twin, restored by close()
        self._original: dict[str, str | None] = {}
        self._depth = threading.local()

    @contextmanager
    def applied(self, env: Mapping[str, str]) -> Iterator[None]:
        key = frozenset(env.items())
        own = int(getattr(self._depth, "value", 0))
        with self._condition:
            while self._active > own and self._current != key:
                self._condition.wait()
            outer = (self._current, self._saved)
            swapped = self._current != key
            if swapped:
                for name in env:
                    self._original.setdefault(name, os.environ.get(name))
                self._saved = {name: os.environ.get(name) for name in env}
                os.environ.update(env)
                self._current = key
            self._active += 1
        self._depth.value = own + 1
        try:
            yield
        finally:
            self._depth.value = own
            with self._condition:
                self._active -= 1
                if swapped and own:  # nested call done: the caller's environment comes back
                    _restore(self._saved)
                    self._current, self._saved = outer
                # When the last invocation ends the environment stays applied (until close): code of the
                # twin's threads outside an invocation, e.g. a module imported while the Step Functions
                # engine runs, must never see the variables vanish under it.
                self._condition.notify_all()

    def close(self) -> None:
        """Put back what the process had before the first invocation."""
        with self._condition:
            _restore(self._original)
            self._current, self._saved, self._original = None, {}, {}
