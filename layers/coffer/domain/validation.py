"""Turn pydantic's errors into messages that name the field and the rule, and nothing else."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from coffer.domain.errors import CofferError, InvalidInput

M = TypeVar("M", bound=BaseModel)


def describe(error: ValidationError, prefix: str = "") -> list[str]:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(input)"
        message = str(item["msg"]).removeprefix("Value error, ")
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
