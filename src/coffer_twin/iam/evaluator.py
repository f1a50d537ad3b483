"""The IAM policy evaluator the twin asks: ``@cloud-copilot/iam-simulate`` in a long-lived Node process.

Why not moto's own IAM enforcement: in moto 5.2.5 it knows only ``StringEquals`` conditions, never supplies
context keys (``aws:PrincipalArn``, ``s3:ResourceAccount`` ...), treats a ``Deny`` with ``NotResource`` as an
Allow, applies bucket policies to every principal regardless of ``Principal``, reads KMS key policies only for
DescribeKey and never applies event bus policies. iam-simulate implements AWS's evaluation logic (identity,
resource, trust and key policies, same- and cross-account requests, every condition operator) and got every
probe case right. It is AGPL-3.0-or-later: it runs unmodified, as a separate process, in tests only; nothing of
it ships in the Lambda layer or the package.

The Node package is pinned in ``evaluator/package.json`` and ``package-lock.json`` (``npm ci`` there, as
``scripts/test`` does). One worker serves the whole twin; requests are JSON lines, answered in order.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["EVALUATOR_DIR", "EvaluatorUnavailable", "PolicyEvaluator", "Verdict"]

EVALUATOR_DIR = Path(__file__).resolve().parent / "evaluator"
_PACKAGE = EVALUATOR_DIR / "node_modules" / "@cloud-copilot" / "iam-simulate" / "package.json"


class EvaluatorUnavailable(RuntimeError):
    """Node or the pinned evaluator package is missing: say how to install it."""


@dataclass(frozen=True)
class Verdict:
    result: str
    """``Allowed``, ``ExplicitlyDenied``, ``ImplicitlyDenied`` or ``Error`` (the simulation was invalid)"""
    denied_by: tuple[str, ...] = ()
    """the Deny statements that matched, as ``<identity|resource|boundary>:<Sid>``"""
    ignored: tuple[str, ...] = ()
    """context keys given that the action cannot carry (the evaluator dropped them)"""
    errors: Any = field(default=None, compare=False)

    @property
    def allowed(self) -> bool:
        return self.result == "Allowed"


class PolicyEvaluator:
    """One Node worker; :meth:`evaluate` is thread-safe (requests are serialised, ~1 ms each)."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise EvaluatorUnavailable("the twin's IAM enforcement needs Node.js >= 20 on PATH")
        if not _PACKAGE.is_file():
            raise EvaluatorUnavailable(
                f"the IAM evaluator is not installed: run `npm ci --prefix {EVALUATOR_DIR}` (scripts/test does)")
        # stderr to a file, not a pipe: a pipe nobody reads would stall the worker once full.
        self._errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the worker; close()
        self._process = subprocess.Popen(
            [node, str(EVALUATOR_DIR / "worker.mjs")], cwd=EVALUATOR_DIR, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._errors, text=True, bufsize=1)
        self._lock = threading.Lock()
        self._next_id = 0
        self.evaluations = 0

    def evaluate(self, simulation: dict[str, Any]) -> Verdict:
        with self._lock:
            if self._process.poll() is not None or self._process.stdin is None or self._process.stdout is None:
                raise EvaluatorUnavailable(f"the IAM evaluator exited: {self._stderr()}")
            self._next_id += 1
            request_id = self._next_id
            self._process.stdin.write(json.dumps({"id": request_id, "simulation": simulation}) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
            if not line:
                raise EvaluatorUnavailable(f"the IAM evaluator exited: {self._stderr()}")
            self.evaluations += 1
        answer = json.loads(line)
        if answer.get("id") != request_id:
            raise EvaluatorUnavailable(f"the IAM evaluator answered request {answer.get('id')}, not {request_id}")
        return Verdict(result=str(answer["result"]), denied_by=tuple(answer.get("denied_by") or ()),
                       ignored=tuple(answer.get("ignored") or ()), errors=answer.get("errors"))

    def _stderr(self) -> str:
        self._errors.seek(0)
        return self._errors.read()[-2000:] or "(nothing on stderr)"

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._errors.close()
