"""YAML loading for CloudFormation/SAM templates.

PyYAML rejects CloudFormation's short-form tags (``!Ref``, ``!GetAtt A.B``, ``!Sub``...). This loader
turns each into the long form dict (``{"Ref": ...}``, ``{"Fn::GetAtt": ["A", "B"]}``) that the SAM
transform and CloudFormation expect, so a template reads the same way as ``sam``/``cfn-lint`` read it.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CfnYamlLoader", "load_template", "loads_template"]

# short tag -> long-form key; "Ref" and "Condition" keep their bare names.
_FUNCTION_TAGS: dict[str, str] = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "GetAtt",
            "Sub",
            "If",
            "Join",
            "Select",
            "Equals",
            "Not",
            "And",
            "Or",
            "FindInMap",
            "Split",
            "Base64",
            "ImportValue",
            "GetAZs",
            "Cidr",
            "Length",
            "ToJsonString",
            "Transform",
        )
    },
}


#: libyaml's parser when PyYAML has it (about ten times faster: the twin reads the template at every deploy)
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CfnYamlLoader(_SAFE_LOADER):  # type: ignore[misc]
    """SafeLoader that understands CloudFormation short-form intrinsic function tags."""


def _construct(long_name: str):  # type: ignore[no-untyped-def]
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if long_name == "Fn::GetAtt":
                # "!GetAtt Resource.Attr.Nested" -> ["Resource", "Attr.Nested"]
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        elif isinstance(node, yaml.MappingNode):
            value = loader.construct_mapping(node, deep=True)
        else:  # pragma: no cover - YAML has no fourth kind of node
            raise yaml.constructor.ConstructorError(None, None, f"unexpected node {type(node).__name__}",
                                                    node.start_mark)
        return {long_name: value}

    return construct


for _tag, _long in _FUNCTION_TAGS.items():
    CfnYamlLoader.add_constructor(f"!{_tag}", _construct(_long))

# CloudFormation treats timestamps and such as plain strings; keep them so (e.g. "2012-10-17").
CfnYamlLoader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),
)


def loads_template(text: str) -> dict[str, Any]:
    """Parse template text (YAML or JSON) into long-form dicts (the caller's own copy)."""
    return copy.deepcopy(_parsed(text))


@functools.lru_cache(maxsize=8)
def _parsed(text: str) -> dict[str, Any]:
    """Each template text parsed once per process (tests deploy the same template many times)."""
    data = yaml.load(text, Loader=CfnYamlLoader)
    if not isinstance(data, dict):
        raise ValueError("a template must be a mapping at its top level")
    return data


def load_template(path: Path) -> dict[str, Any]:
    """Read a template file (YAML or JSON) into long-form dicts."""
    return loads_template(Path(path).read_text(encoding="utf-8"))
