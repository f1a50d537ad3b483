"""IAM enforced on the twin: every AWS call a principal makes is authorised as AWS would, or refused.

Opt-in (``Twin.deploy(..., enforce_iam=True)``): the demo needs no Node; the security tests and the workflows
proving that the functions' least-privilege roles suffice run with it.

Who the principal of a call is (seen at the twin's one seam, :mod:`coffer_twin.calls`):

- credentials of a role session (moto STS AssumeRole: a copy role, or :meth:`Twin.session_as` in a test)
  -> that role;
- otherwise a call made inside a function's handler -> the function's execution role;
- otherwise (the test harness with the twin's own credentials, or Step Functions' own calls: Lambda invokes,
  ItemReader listings, ResultWriter writes) -> not evaluated: the harness stands for "the world" that sets
  up sources and reads results, and the state machines' roles are checked by tests/unit/test_template.py.
  Sessions named :data:`HARNESS_SESSION` (the harness acting in another account) are not evaluated either.

Each call becomes the authorisations AWS makes for it (:mod:`.requests`), each evaluated by iam-simulate
(:mod:`.evaluator`) with the principal's identity policies (read from moto's IAM) and the resource's policy
(bucket, key, event bus, trust policy, read from moto). One refusal refuses the call with the service's own
AccessDenied error, before moto sees it: nothing changes. An operation :mod:`.requests` does not know is
refused too (fail closed), naming itself.

moto's own bucket-policy check (``FakeBucket.get_permission``, which ignores ``Principal`` and conditions) is
switched off while the enforcement is installed, so bucket policies can be stored in moto as in S3 and judged
here only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from ..calls import DRIVER, ENGINE, AwsCall, intercepting
from ..faults import FaultKind, error_response
from . import moto_state
from .evaluator import PolicyEvaluator, Verdict
from .moto_state import Principal
from .requests import Authorisation, Unmapped, authorisations, request_region, session_tags

__all__ = ["HARNESS_SESSION", "Decision", "IamEnforcement"]

#: Role sessions the test harness opens to act in another account (setting up a destination): not evaluated.
HARNESS_SESSION = "coffer-local"
_ACCESS_KEY = re.compile(r"Credential=([^/]+)/")
_ISSUED_KEY = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")


@dataclass(frozen=True)
class Decision:
    """One authorisation the twin evaluated: who, what, on what, and the verdict."""

    principal: str
    caller: str
    action: str
    resource: str
    result: str
    denied_by: tuple[str, ...] = ()
    ignored_context: tuple[str, ...] = ()
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.result == "Allowed"


class IamEnforcement:
    """Evaluates every call of a principal while installed; keeps every decision (``decisions``)."""

    def __init__(self, region: str, function_roles: dict[str, str]) -> None:
        self.region = region
        self.function_roles = dict(function_roles)
        """function logical id -> its execution role's ARN"""
        self.decisions: list[Decision] = []
        self._lock = threading.Lock()
        self._sessions: dict[str, Principal | None] = {}
        self._session_tags: dict[str, tuple[tuple[str, str], ...]] = {}
        """access key id of a role session -> the session tags its AssumeRole set (moto's STS keeps none)"""
        self._evaluator: PolicyEvaluator | None = None

    @contextmanager
    def installed(self) -> Iterator[IamEnforcement]:
        from moto.iam.access_control import PermissionResult
        from moto.s3.models import FakeBucket

        with ExitStack() as stack:
            self._evaluator = PolicyEvaluator()
            stack.callback(self._close_evaluator)
            stack.enter_context(mock.patch.object(
                FakeBucket, "get_permission", lambda bucket, action, resource: PermissionResult.NEUTRAL))
            stack.enter_context(intercepting(self._intercept))
            yield self

    def _close_evaluator(self) -> None:
        if self._evaluator is not None:
            self._evaluator.close()
            self._evaluator = None

    # -- what tests look at ------------------------------------------------------------------------
    def refusals(self, principal: str | None = None) -> list[Decision]:
        """Refused authorisations (of one principal role ARN, or all)."""
        with self._lock:
            return [d for d in self.decisions if not d.allowed and principal in (None, d.principal)]

    def clear(self) -> None:
        with self._lock:
            self.decisions.clear()

    @property
    def evaluations(self) -> int:
        return 0 if self._evaluator is None else self._evaluator.evaluations

    # -- the interceptor -------------------------------------------------------------------------------
    def principal_of(self, call: AwsCall) -> Principal | None:
        """The principal the call is evaluated as, or None when it is not evaluated (see the module doc)."""
        found = _ACCESS_KEY.search(call.headers.get("Authorization", ""))
        if found is not None:
            key = found.group(1)
            with self._lock:
                known = key in self._sessions
                session = self._sessions.get(key)
            if not known:
                session = moto_state.assumed_principal(key)
                with self._lock:
                    tags = self._session_tags.get(key, ())
                    if session is not None and tags:
                        session = Principal(role_arn=session.role_arn, session_name=session.session_name, tags=tags)
                    self._sessions[key] = session
            if session is not None:
                return None if session.session_name == HARNESS_SESSION else session
        if call.caller in (ENGINE, DRIVER):
            return None
        role = self.function_roles.get(call.caller)
        if role is None:
            raise RuntimeError(f"the twin knows no execution role of function {call.caller}")
        return Principal(role_arn=role, session_name=call.caller)

    def _intercept(self, call: AwsCall, answer: Callable[[], Any]) -> Any:
        refused = self._authorise(call)
        if refused is not None:
            return refused
        tags = session_tags(call)
        if not tags:
            return None
        # moto's STS keeps no session tags: remember them by the access key it issues, for the session's requests
        response = answer()
        issued = _ISSUED_KEY.search(bytes(getattr(response, "content", b"") or b""))
        if issued is not None:
            with self._lock:
                self._session_tags[issued.group(1).decode()] = tuple(sorted(tags.items()))
        return response

    def _authorise(self, call: AwsCall) -> Any:
        """None when the call may go on (or is not evaluated), else the AccessDenied response it gets."""
        principal = self.principal_of(call)
        if principal is None:
            return None
        try:
            needed = authorisations(call, principal, request_region(call, self.region))
        except Unmapped as error:
            self._record(Decision(principal.role_arn, call.caller, f"{call.service}:{call.operation}", call.url,
                                  "Unmapped", reason=str(error)))
            return self._refuse(call, f"the twin does not know the IAM authorisation of {error} (fail closed)")
        for authorisation in needed:
            verdict = self.evaluate(principal, authorisation)
            self._record(Decision(principal.role_arn, call.caller, authorisation.action, authorisation.resource,
                                  verdict.result, verdict.denied_by, verdict.ignored,
                                  "" if verdict.errors is None else str(verdict.errors)[:500]))
            if not verdict.allowed:
                return self._refuse(call, _message(principal, authorisation, verdict))
        return None

    def evaluate(self, principal: Principal, authorisation: Authorisation) -> Verdict:
        """iam-simulate's verdict on one authorisation (the principal's identity policies from moto's IAM)."""
        if self._evaluator is None:
            raise RuntimeError("the IAM enforcement is not installed")
        simulation = {
            "request": {"principal": principal.session_arn, "action": authorisation.action,
                        "resource": {"resource": authorisation.resource, "accountId": authorisation.account},
                        "contextVariables": authorisation.context},
            "identityPolicies": moto_state.role_identity_policies(principal.role_arn) or [],
            "serviceControlPolicies": [], "resourceControlPolicies": [],
        }
        if authorisation.resource_policy is not None:
            simulation["resourcePolicy"] = authorisation.resource_policy
        return self._evaluator.evaluate(simulation)

    def _record(self, decision: Decision) -> None:
        with self._lock:
            self.decisions.append(decision)

    @staticmethod
    def _refuse(call: AwsCall, message: str) -> Any:
        return error_response(call, FaultKind.ACCESS_DENIED, message)


def _message(principal: Principal, authorisation: Authorisation, verdict: Verdict) -> str:
    """AWS's AccessDenied message, with the statement that denied (the twin's evaluator says which)."""
    if verdict.result == "ExplicitlyDenied":
        why = "with an explicit deny in " + ", ".join(verdict.denied_by)
    elif verdict.result == "Error":
        why = f"because the policies could not be evaluated: {str(verdict.errors)[:300]}"
    else:
        why = "because no policy allows it"
    text = (f"User: {principal.session_arn} is not authorized to perform: {authorisation.action} on resource: "
            f"{authorisation.resource} {why} (the twin's IAM evaluation)")
    return text.replace("&", "and").replace("<", "(").replace(">", ")")
