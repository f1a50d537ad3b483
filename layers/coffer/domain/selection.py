"""Which resources a selection assigns to a plan: AWS Backup's matching, as pure code.

AWS Backup's documented logic ("similar to IAM policies"): a resource is selected when

    (it matches any ``Resources`` ARN pattern  OR  any ``ListOfTags`` condition)
    AND it meets every ``Conditions`` entry
    AND it matches no ``NotResources`` pattern.

With neither ``Resources`` nor ``ListOfTags`` every resource is a candidate ("all supported resources").
``*`` in an ARN pattern or a ``StringLike`` value stands for any run of characters, ``?`` for one (IAM's
wildcards). Condition operators are case sensitive. A negated operator (``StringNotEquals``,
``StringNotLike``) holds for a resource that lacks the tag, as in IAM. Condition keys are tag keys, written
``aws:ResourceTag/<key>`` (Conditions) or ``<key>`` (ListOfTags); both spellings are read in both places.

What the Resource Groups Tagging API can filter server-side is derived here too (:func:`scan_filters`), and
whether untagged resources can match at all (:func:`needs_discovery`), since GetResources lists only tagged
resources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from coffer.domain.errors import CofferError
from coffer.domain.plans import BackupSelection
from coffer.domain.resources import ResourceType, resource_type_of
from coffer.domain.selection_predicate import Predicate, compile_predicate, has_wildcard, tag_key

#: ARN prefix each resource type's ARNs start with, and its Resource Groups Tagging API type filter
RESOURCE_TYPE_ARNS: dict[ResourceType, tuple[str, str]] = {
    ResourceType.S3: ("arn:aws:s3:::", "s3"),
    ResourceType.DYNAMODB: ("arn:aws:dynamodb:", "dynamodb:table"),
    ResourceType.EBS: ("arn:aws:ec2:", "ec2:volume"),
    ResourceType.EC2: ("arn:aws:ec2:", "ec2:instance"),
    ResourceType.RDS: ("arn:aws:rds:", "rds:db"),
    ResourceType.AURORA: ("arn:aws:rds:", "rds:cluster"),
    ResourceType.DOCUMENTDB: ("arn:aws:rds:", "rds:cluster"),
    ResourceType.NEPTUNE: ("arn:aws:rds:", "rds:cluster"),
}


@dataclass(frozen=True)
class SelectionMatcher:
    """One selection, compiled once; :attr:`matches` is called for every resource of the account."""

    selection: BackupSelection
    #: ``matches(arn, tags) -> bool``: whether this selection selects the resource (selection_predicate.py)
    matches: Predicate = field(init=False, repr=False, compare=False)
    everything: bool = field(init=False)
    _equals: tuple[tuple[str, str], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        s = self.selection
        set_ = object.__setattr__
        set_(self, "matches", compile_predicate(s))
        set_(self, "everything", "*" in (s.resources or []) or (not s.resources and not s.list_of_tags))
        equals = s.conditions.string_equals if s.conditions else None
        set_(self, "_equals", tuple((tag_key(p.condition_key), p.condition_value) for p in equals or []))

    # ---- what the scan can leave to AWS ---------------------------------------------------------
    @cached_property
    def literal_arns(self) -> tuple[str, ...]:
        """ARNs named outright in Resources (no wildcard): looked up one by one, tagged or not."""
        return tuple(sorted({p for p in self.selection.resources or [] if not has_wildcard(p)}))

    @property
    def requires_a_tag(self) -> bool:
        """True when only a tagged resource can match (a positive tag condition must hold)."""
        conditions = self.selection.conditions
        positive = bool(conditions and (conditions.string_equals or conditions.string_like))
        only_tags = not self.selection.resources and bool(self.selection.list_of_tags)
        return positive or only_tags

    def type_filters(self) -> frozenset[str] | None:
        """Tagging API ResourceTypeFilters that cover every resource this selection can match (None: all types).

        Only Resources patterns restrict types, and only when nothing else (ListOfTags, '*') can add any."""
        s = self.selection
        if self.everything or s.list_of_tags:
            return None
        found: set[str] = set()
        for pattern in s.resources or []:
            parts = pattern.split(":", 5)
            if len(parts) < 6 or has_wildcard(parts[2]):
                return None
            service, resource = parts[2], parts[5]
            head = re.split(r"[/:]", resource, maxsplit=1)[0] if re.search(r"[/:]", resource) else ""
            found.add(f"{service}:{head}" if head and not has_wildcard(head) else service)
        return frozenset(found)

    def tag_filters(self) -> tuple[tuple[str, str], ...]:
        """Conditions every match must meet that the Tagging API can check (StringEquals)."""
        return self._equals

    def can_match_type(self, resource_type: ResourceType) -> bool:
        """Whether some Resources pattern (or '*') can name a resource of this type."""
        if self.everything:
            return True
        prefix = RESOURCE_TYPE_ARNS[resource_type][0]
        for pattern in self.selection.resources or []:
            head = re.split(r"[*?]", pattern, maxsplit=1)[0]  # the literal start of the pattern
            if prefix.startswith(head) or head.startswith(prefix):
                return True
        return False


def needs_discovery(matcher: SelectionMatcher, resource_type: ResourceType) -> bool:
    """Untagged resources of this type can match a wildcard pattern: the type's own listing must be read."""
    wildcard = matcher.everything or any(has_wildcard(p) for p in matcher.selection.resources or [])
    return wildcard and not matcher.requires_a_tag and matcher.can_match_type(resource_type)


@dataclass(frozen=True)
class ScanFilters:
    tag_filters: tuple[tuple[str, str], ...] = ()
    type_filters: frozenset[str] | None = None


def scan_filters(matchers: list[SelectionMatcher]) -> ScanFilters:
    """One GetResources scan serves every selection of a plan; filters are pushed down only when they hold for
    all of them (tag filters: a single selection's StringEquals; type filters: the union, if all have some)."""
    tags = matchers[0].tag_filters() if len(matchers) == 1 else ()
    types: set[str] = set()
    for matcher in matchers:
        filters = matcher.type_filters()
        if filters is None:
            return ScanFilters(tag_filters=tags)
        types |= filters
    return ScanFilters(tag_filters=tags, type_filters=frozenset(types))


@dataclass(frozen=True)
class Classified:
    """A matched resource: its type if Coffer protects it, otherwise why not."""

    arn: str
    resource_type: ResourceType | None
    reason: str | None = None


def classify(arn: str, supported: frozenset[ResourceType]) -> Classified:
    try:
        resource_type = resource_type_of(arn, field="")
    except CofferError as error:
        return Classified(arn, None, str(error))
    if resource_type not in supported:
        return Classified(arn, None, f"{resource_type} resources have no adapter yet")
    return Classified(arn, resource_type)


def matching(matchers: Iterable[SelectionMatcher], arn: str, tags: Mapping[str, str]) -> list[str]:
    """Names of the selections that select this resource."""
    return [m.selection.selection_name for m in matchers if m.matches(arn, tags)]
