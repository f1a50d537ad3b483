"""Run the SAM transform offline, as ``sam deploy`` has CloudFormation do in the cloud."""

from __future__ import annotations

from typing import Any

from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.translator.transform import transform

__all__ = ["BundledManagedPolicyLoader", "to_cloudformation"]


class BundledManagedPolicyLoader:
    """Managed policy names -> ARNs from the map bundled with samtranslator: no IAM call, no network."""

    def __init__(self, partition: str = "aws") -> None:
        self._partition = partition

    def load(self) -> dict[str, str]:
        return dict(get_bundled_managed_policy_map(self._partition) or {})


def to_cloudformation(template: dict[str, Any], parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """Expand ``AWS::Serverless::*`` into plain CloudFormation (needs AWS_DEFAULT_REGION set)."""
    loader: Any = BundledManagedPolicyLoader()  # duck-types samtranslator's ManagedPolicyLoader
    return dict(transform(template, dict(parameters or {}), loader))
