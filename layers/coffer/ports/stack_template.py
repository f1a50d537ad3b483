"""The stack as CloudFormation deployed it: template, parameters, resources (adapters/aws_services/stack_template.py).

Verify resolves from it what the template installs (domain/cfn_template.py) and compares the live key and bucket
policies and the bucket's Object Lock default with that.
"""

from __future__ import annotations

from typing import Protocol

from coffer.domain.cfn_template import DeployedStack


class StackTemplates(Protocol):
    def deployed(self) -> DeployedStack:
        """InvalidInput naming what is missing when the stack cannot be read (no stack name configured)."""
        ...
