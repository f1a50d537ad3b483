"""Powertools' Tracer, made when the first invocation starts instead of at import.

A Tracer made at import costs every cold start the X-Ray SDK, a recorder and patches of every library the SDK
knows, traced or not: disabled (outside Lambda, or POWERTOOLS_TRACE_DISABLED) Powertools still builds the
recorder, which outside Lambda makes two botocore clients for centralised sampling. Made at the first call:
a disabled tracer imports nothing, and an enabled one patches only botocore, the one library through which
Coffer talks over the network. What is traced is unchanged: a ``## <handler>`` subsegment per invocation with
its ColdStart and Service annotations, its response or error as metadata, and a subsegment per AWS call.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

Handler = Callable[[Any, Any], Any]

#: the libraries whose calls become subsegments: every AWS call goes through botocore
PATCHED_MODULES = ("botocore",)


class FirstInvocationTracer:
    """``capture_lambda_handler`` as Powertools' Tracer has it, with the Tracer made by the first call."""

    def __init__(self, patch_modules: Sequence[str] = PATCHED_MODULES) -> None:
        self.patch_modules = tuple(patch_modules)
        self._lock = threading.Lock()
        self._made = False
        self._tracer: Tracer | None = None

    def tracer(self) -> Tracer | None:
        """The Tracer, made once; None when tracing is off (then nothing of X-Ray is imported)."""
        with self._lock:
            if not self._made:
                from aws_lambda_powertools.tracing.tracer import Tracer

                # Powertools' own rule for "off": POWERTOOLS_TRACE_DISABLED, outside Lambda, SAM local or Chalice
                if not Tracer._is_tracer_disabled():
                    self._tracer = Tracer(patch_modules=self.patch_modules)
                self._made = True
            return self._tracer

    def capture_lambda_handler(self, handler: Handler) -> Handler:
        traced: list[Handler] = []

        @functools.wraps(handler)
        def call(event: Any, context: Any) -> Any:
            if not traced:
                tracer = self.tracer()
                traced.append(handler if tracer is None else tracer.capture_lambda_handler(handler))
            return traced[0](event, context)

        return call
