"""What a deployed stack's template installs: the intrinsic functions of a (processed) CloudFormation template
resolved with the stack's parameters and physical resource ids, as CloudFormation resolved them when it deployed.

Verify compares the live vault key policy and vault bucket policy with the template's own statements, resolved here
from the template the stack was deployed with (GetTemplate), not from a copy kept in the code: a statement the
template changes is expected as changed, and the code cannot drift from the template.

Only what the template's policies use is resolved: Ref (parameters, resources, pseudo parameters, AWS::NoValue),
Fn::Sub (the one-argument and the two-argument forms), Fn::GetAtt <resource>.Arn, Fn::If, Fn::Join, Fn::Split,
Fn::Select, and the conditions (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition). Anything else is a clear error
naming the function: a template that grew one needs it added here, not silently skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from coffer.domain.errors import InvalidInput

#: marks a value Fn::If resolved to AWS::NoValue: its key (or list item) is dropped, as CloudFormation drops it
_NO_VALUE = object()
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass(frozen=True)
class DeployedStack:
    """A stack as CloudFormation deployed it: its processed template, parameter values and resources."""

    template: dict[str, Any]
    parameters: dict[str, str]
    #: logical id -> physical id (role name, bucket name, key id ...)
    physical_ids: dict[str, str]
    account: str
    region: str
    partition: str = "aws"
    stack_name: str = ""
    stack_id: str = ""
    _conditions: dict[str, bool] = field(default_factory=dict, compare=False)

    def resource(self, logical_id: str) -> dict[str, Any]:
        resource = self.template.get("Resources", {}).get(logical_id)
        if not isinstance(resource, dict):
            raise InvalidInput([f"stack {self.stack_name}: its template has no resource {logical_id}"])
        return resource

    def resolved_property(self, logical_id: str, name: str) -> Any:
        """A resource's property with every intrinsic function resolved (AWS::NoValue dropped)."""
        value = self.resource(logical_id).get("Properties", {}).get(name)
        return _strip(self._resolve(value))

    def arn_of(self, logical_id: str) -> str:
        """Fn::GetAtt <logical_id>.Arn as CloudFormation resolved it."""
        return self._get_att(logical_id, "Arn")

    # ---- resolution ---------------------------------------------------------------------------------
    def _resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self._resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (name, argument), = node.items()
            if name == "Ref":
                return self._ref(str(argument))
            if name.startswith("Fn::") or name == "Condition":
                return self._function(name, argument)
        return {key: self._resolve(value) for key, value in node.items()}

    def _function(self, name: str, argument: Any) -> Any:
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self._resolve(when_true if self.condition(str(condition)) else when_false)
        if name == "Fn::Sub":
            if isinstance(argument, list):
                text, variables = argument[0], {k: self._resolve(v) for k, v in argument[1].items()}
            else:
                text, variables = argument, {}
            return _SUB.sub(lambda m: self._sub_variable(m.group(1), variables), str(text))
        if name == "Fn::GetAtt":
            logical, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return self._get_att(str(logical), str(attribute))
        if name == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(item) for item in _flat(self._resolve(items)))
        if name == "Fn::Split":
            separator, text = argument
            return str(self._resolve(text)).split(str(separator))
        if name == "Fn::Select":
            index, items = argument
            return _flat(self._resolve(items))[int(self._resolve(index))]
        if name in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"):
            return self._truth(name, argument)
        raise InvalidInput([f"stack {self.stack_name}: template function {name} is not resolved by verify "
                            "(domain/cfn_template.py): add it there"])

    def _sub_variable(self, name: str, variables: dict[str, Any]) -> str:
        if name in variables:
            return str(variables[name])
        if "." in name:
            logical, attribute = name.split(".", 1)
            return str(self._get_att(logical, attribute))
        value = self._ref(name)
        return ",".join(value) if isinstance(value, list) else str(value)

    def _ref(self, name: str) -> Any:
        pseudo = {"AWS::AccountId": self.account, "AWS::Region": self.region, "AWS::Partition": self.partition,
                  "AWS::StackName": self.stack_name, "AWS::StackId": self.stack_id, "AWS::URLSuffix": "amazonaws.com"}
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        declared = self.template.get("Parameters", {}).get(name)
        if declared is not None:
            value = self.parameters.get(name, str(declared.get("Default", "")))
            kind = str(declared.get("Type", "String"))
            if kind == "CommaDelimitedList" or kind.startswith("List<"):
                return [] if value == "" else [item.strip() for item in value.split(",")]
            return value
        if name in self.physical_ids:
            return self.physical_ids[name]
        raise InvalidInput([f"stack {self.stack_name}: Ref {name} names no parameter or resource of the stack"])

    def _get_att(self, logical: str, attribute: str) -> str:
        if attribute != "Arn":
            raise InvalidInput([f"stack {self.stack_name}: Fn::GetAtt {logical}.{attribute} is not resolved by "
                                "verify (only .Arn)"])
        kind = self.resource(logical).get("Type")
        physical = self.physical_ids.get(logical)
        if physical is None:
            raise InvalidInput([f"stack {self.stack_name}: resource {logical} has no physical id"])
        if physical.startswith("arn:"):
            return physical
        arns = {"AWS::IAM::Role": f"arn:{self.partition}:iam::{self.account}:role/{physical}",
                "AWS::S3::Bucket": f"arn:{self.partition}:s3:::{physical}",
                "AWS::KMS::Key": f"arn:{self.partition}:kms:{self.region}:{self.account}:key/{physical}"}
        if kind not in arns:
            raise InvalidInput([f"stack {self.stack_name}: Fn::GetAtt {logical}.Arn of a {kind} is not resolved "
                                "by verify"])
        return arns[str(kind)]

    # ---- conditions ---------------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            declared = self.template.get("Conditions", {}).get(name)
            if declared is None:
                raise InvalidInput([f"stack {self.stack_name}: condition {name} is not in its template"])
            self._conditions[name] = bool(self._resolve(declared))
        return self._conditions[name]

    def _truth(self, name: str, argument: Any) -> bool:
        if name == "Condition":
            return self.condition(str(argument))
        if name == "Fn::Equals":
            left, right = (self._resolve(a) for a in argument)
            return bool(left == right)
        if name == "Fn::Not":
            return not self._resolve(argument[0])
        values = [bool(self._resolve(a)) for a in argument]
        return all(values) if name == "Fn::And" else any(values)


def _flat(value: Any) -> list[Any]:
    return [v for v in value if v is not _NO_VALUE] if isinstance(value, list) else [value]


def _strip(value: Any) -> Any:
    """Drop AWS::NoValue: a key whose value is it disappears, as does a list item."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if v is not _NO_VALUE}
    if isinstance(value, list):
        return [_strip(v) for v in value if v is not _NO_VALUE]
    return value
