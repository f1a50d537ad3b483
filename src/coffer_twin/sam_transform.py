"""Run the SAM transform offline, as ``sam deploy`` has CloudFormation do in the cloud."""

from __future__ import annotations

import copy
import json
import os
import threading
from typing import Any

from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.translator.transform import transform

__all__ = ["BundledManagedPolicyLoader", "to_cloudformation"]

#: (packaged template, parameters) as JSON -> its transform: the same template is deployed by many twins
_TRANSFORMED: dict[str, dict[str, Any]] = {}
_LOCK = threading.Lock()


class BundledManagedPolicyLoader:
    """Managed policy names -> ARNs from the map bundled with samtranslator: no IAM call, no network."""

    def __init__(self, partition: str = "aws") -> None:
        self._partition = partition

    def load(self) -> dict[str, str]:
        return dict(get_bundled_managed_policy_map(self._partition) or {})


def to_cloudformation(template: dict[str, Any], parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """Expand ``AWS::Serverless::*`` into plain CloudFormation (needs AWS_DEFAULT_REGION set). The transform is
    a function of its inputs (seconds of samtranslator for Coffer's template): a repeat gets a copy of the first."""
    key = json.dumps([template, parameters or {}, os.environ.get("AWS_DEFAULT_REGION")], sort_keys=True,
                     default=str)
    with _LOCK:
        done = _TRANSFORMED.get(key)
    if done is None:
        loader: Any = BundledManagedPolicyLoader()  # duck-types samtranslator's ManagedPolicyLoader
        done = dict(transform(copy.deepcopy(template), dict(parameters or {}), loader))
        with _LOCK:
            _TRANSFORMED.setdefault(key, done)
    return copy.deepcopy(done)
