"""The account's resources, for plan selections (adapters/resources/directory.py): the Resource Groups Tagging API
across types, and each type's own listing where tags cannot find a resource."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from coffer.domain.resources import ResourceType


@dataclass(frozen=True)
class FoundResource:
    arn: str
    tags: dict[str, str]


class ResourceDirectory(Protocol):
    region: str
    partition: str

    def tagged_page(self, token: str | None, tag_filters: tuple[tuple[str, str], ...] = (),
                    type_filters: frozenset[str] | None = None) -> tuple[list[FoundResource], str | None]:
        """One page of tagged resources of every type (or of `type_filters`) and the next token."""
        ...

    def tags_of(self, arns: list[str]) -> dict[str, dict[str, str]]:
        """Tags of named resources; one never tagged is absent."""
        ...

    def listed_page(self, resource_type: ResourceType, token: str | None,
                    account: str) -> tuple[list[str], str | None]:
        """One page of a type's own listing (ARNs, tagged or not) and the next token."""
        ...
