"""IAM on the twin: the template's role, bucket, key, event bus and trust policies evaluated for every call a
principal makes (opt-in: ``Twin.deploy(..., enforce_iam=True)``). See :mod:`.enforcement`."""

from .enforcement import HARNESS_SESSION, Decision, IamEnforcement
from .evaluator import EvaluatorUnavailable, PolicyEvaluator, Verdict
from .moto_state import Principal

__all__ = ["HARNESS_SESSION", "Decision", "EvaluatorUnavailable", "IamEnforcement", "PolicyEvaluator", "Principal",
           "Verdict"]
