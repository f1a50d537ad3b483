"""A selection compiled into one Python function ``matches(arn, tags) -> bool``, for the hot loop of a plan run.

A plan run asks every selection about every resource of the account (100,000 resources x 50 selections is
5,000,000 questions). Interpreting the selection each time (loops over empty condition lists, a regular expression
for every pattern) cost 2.4 times what one function holding only the selection's own tests, cheapest first, costs
(bench/plans.py). The rules are selection.py's (AWS Backup's); only their order and form change, which is sound
because the answer is a conjunction of side-effect-free tests:

    (Resources pattern OR ListOfTags entry; neither: every resource)  AND every Conditions entry  AND no NotResources

``*`` is any run of characters and ``?`` one, as in IAM; a pattern without them is compared whole, a prefix
(``abc*``), suffix (``*abc``) or infix (``*abc*``) pattern with str methods, any other with an anchored regular
expression behind a test of its literal head. The function's source holds only generated names: every key, value
and pattern of the selection reaches it as an object in its namespace, never as text, and it sees no builtins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, cast

from coffer.domain.plans import TAG_KEY_PREFIX

if TYPE_CHECKING:
    from coffer.domain.plans import BackupSelection

Predicate = Callable[[str, Mapping[str, str]], bool]


def tag_key(condition_key: str) -> str:
    return condition_key.removeprefix(TAG_KEY_PREFIX)


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def wildcard_regex(pattern: str) -> re.Pattern[str]:
    """The whole-string regular expression of an IAM wildcard pattern."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body + r"\Z", re.DOTALL)


class _Source:
    """The predicate's lines, and the objects its generated names stand for."""

    def __init__(self) -> None:
        self.names: dict[str, object] = {}
        self.checks: list[tuple[int, str]] = []  # (cost, "if ...: return False")

    def name(self, value: object) -> str:
        name = f"_{len(self.names)}"
        self.names[name] = value
        return name

    def reject_if(self, condition: str, cost: int) -> None:
        self.checks.append((cost, f"if {condition}: return False"))

    def text_test(self, var: str, pattern: str) -> tuple[str, int]:
        """An expression true when the string `var` matches `pattern`, and its cost (0: ==, 1: str method,
        2: regular expression)."""
        if not has_wildcard(pattern):
            return f"{var} == {self.name(pattern)}", 0
        if not pattern.strip("*"):
            return "True", 0
        inner = pattern.strip("*")
        if not has_wildcard(inner):
            starts, ends = pattern.startswith("*"), pattern.endswith("*")
            if starts and ends:
                return f"{self.name(inner)} in {var}", 1
            if ends:
                return f"{var}.startswith({self.name(inner)})", 1
            return f"{var}.endswith({self.name(inner)})", 1
        head = re.split(r"[*?]", pattern, maxsplit=1)[0]
        test = f"{self.name(wildcard_regex(pattern).match)}({var})"
        return (f"({var}.startswith({self.name(head)}) and {test})" if head else test), 2

    def any_pattern(self, var: str, patterns: Iterable[str]) -> tuple[str, int]:
        """An expression true when `var` matches any of `patterns` (literals in one set lookup)."""
        unique = sorted(set(patterns))
        literals = frozenset(p for p in unique if not has_wildcard(p))
        tests = [(f"{var} in {self.name(literals)}", 0)] if len(literals) > 1 else []
        tests += [self.text_test(var, p) for p in unique if has_wildcard(p) or len(literals) == 1]
        if not tests:
            return "False", 0
        return " or ".join(t for t, _ in tests), max(c for _, c in tests)


def compile_predicate(selection: BackupSelection) -> Predicate:
    """``matches(arn, tags)`` for this selection (see the module's docstring for the rules)."""
    source = _Source()
    conditions = selection.conditions
    for p in (conditions.string_equals or []) if conditions else []:
        source.reject_if(f"get({source.name(tag_key(p.condition_key))}) != {source.name(p.condition_value)}", 0)
    for p in (conditions.string_not_equals or []) if conditions else []:
        source.reject_if(f"get({source.name(tag_key(p.condition_key))}) == {source.name(p.condition_value)}", 0)
    resources, list_of_tags = selection.resources or [], selection.list_of_tags or []
    if resources or list_of_tags:
        tests = [source.any_pattern("arn", resources)] if resources else []
        tests += [(f"get({source.name(tag_key(t.condition_key))}) == {source.name(t.condition_value)}", 0)
                  for t in list_of_tags]
        tests.sort(key=lambda test: test[1])
        source.reject_if(f"not ({' or '.join(t for t, _ in tests)})", max(c for _, c in tests))
    for p in (conditions.string_like or []) if conditions else []:
        test, cost = source.text_test("value", p.condition_value)
        source.reject_if(f"(value := get({source.name(tag_key(p.condition_key))})) is None or not ({test})", cost)
    for p in (conditions.string_not_like or []) if conditions else []:
        test, cost = source.text_test("value", p.condition_value)
        source.reject_if(f"(value := get({source.name(tag_key(p.condition_key))})) is not None and ({test})", cost)
    if selection.not_resources:
        test, cost = source.any_pattern("arn", selection.not_resources)
        source.reject_if(test, cost)
    source.checks.sort(key=lambda check: check[0])  # stable: cheapest tests first, otherwise as written
    lines = [check for _, check in source.checks]
    uses_tags = any("get(" in line for line in lines)
    text = "def matches(arn, tags):\n" + ("    get = tags.get\n" if uses_tags else "") + "".join(
        f"    {line}\n" for line in lines) + "    return True\n"
    namespace: dict[str, object] = {"__builtins__": {}, **source.names}
    exec(compile(text, f"<selection {selection.selection_name}>", "exec"), namespace)  # names only: see above
    return cast(Predicate, namespace["matches"])
