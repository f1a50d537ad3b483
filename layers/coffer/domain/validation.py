"""Turn pydantic's errors into messages that name the field and the rule, and nothing else."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from coffer.domain.errors import CofferError, InvalidInput
from coffer.domain.input_rules.text import shown

M = TypeVar("M", bound=BaseModel)


#: pydantic errors whose message already shows the value (Coffer's own rules), or where no value was given
_VALUE_IN_MESSAGE = {"value_error", "missing", "extra_forbidden"}


def describe(error: ValidationError, prefix: str = "") -> list[str]:
    """`<field path>: <rule>`, with the value that broke it when pydantic's message does not show it."""
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(input)"
        message = str(item["msg"]).removeprefix("Value error, ")
        value = item.get("input")
        if item["type"] not in _VALUE_IN_MESSAGE and (value is None or isinstance(value, str | int | float)):
            message += f" (got {shown(value)})"
        problems.append(f"{prefix}{field}: {message}")
    return problems


def parse_model(model: type[M], data: Any, prefix: str = "") -> M:
    """model.model_validate(data), raising InvalidInput that names every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(describe(error, prefix)) from None
    except CofferError as error:
        raise InvalidInput([f"{prefix}{error}"]) from None
