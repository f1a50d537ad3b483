"""Selection matching: AWS Backup's logic, as pure code, and what the Tagging API scan can be spared."""

from __future__ import annotations

import fnmatch
import functools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.domain.plans import BackupSelection
from coffer.domain.resources import ResourceType
from coffer.domain.selection import SelectionMatcher, classify, needs_discovery, scan_filters

BUCKET = "arn:aws:s3:::payments-prod"
SCRATCH = "arn:aws:s3:::payments-scratch"
TABLE = "arn:aws:dynamodb:eu-west-1:111122223333:table/orders"
TMP_TABLE = "arn:aws:dynamodb:eu-west-1:111122223333:table/tmp-orders"
VOLUME = "arn:aws:ec2:eu-west-1:111122223333:volume/vol-0abc"
QUEUE = "arn:aws:sqs:eu-west-1:111122223333:jobs"


def matcher(**fields: Any) -> SelectionMatcher:
    return SelectionMatcher(BackupSelection.model_validate({"SelectionName": "s", **fields}))


def cond(**operators: dict[str, str]) -> dict[str, Any]:
    return {"Conditions": {op: [{"ConditionKey": f"aws:ResourceTag/{k}", "ConditionValue": v}
                                for k, v in pairs.items()] for op, pairs in operators.items()}}


def test_no_resources_and_no_tags_selects_everything() -> None:
    m = matcher()
    assert m.matches(BUCKET, {}) and m.matches(VOLUME, {"a": "b"})


def test_resources_patterns_are_ored_with_wildcards() -> None:
    m = matcher(Resources=["arn:aws:s3:::payments-*", "arn:aws:dynamodb:*:*:table/orders"])
    assert m.matches(BUCKET, {}) and m.matches(SCRATCH, {}) and m.matches(TABLE, {})
    assert not m.matches(TMP_TABLE, {}) and not m.matches(VOLUME, {})
    assert matcher(Resources=["arn:aws:s3:::payments-pro?"]).matches(BUCKET, {})


def test_conditions_are_anded() -> None:
    m = matcher(Resources=["*"], **cond(StringEquals={"env": "prod", "team": "pay"}))
    assert m.matches(BUCKET, {"env": "prod", "team": "pay", "x": "y"})
    assert not m.matches(BUCKET, {"env": "prod"})
    assert not m.matches(BUCKET, {"env": "prod", "team": "Pay"})  # case sensitive


def test_like_and_negated_operators_follow_iam() -> None:
    like = matcher(**cond(StringLike={"team": "pay*"}))
    assert like.matches(BUCKET, {"team": "payments"}) and not like.matches(BUCKET, {"team": "ops"})
    assert not like.matches(BUCKET, {})  # a positive operator needs the tag
    not_equals = matcher(**cond(StringNotEquals={"backup": "none"}))
    assert not_equals.matches(BUCKET, {}) and not_equals.matches(BUCKET, {"backup": "daily"})
    assert not not_equals.matches(BUCKET, {"backup": "none"})
    not_like = matcher(**cond(StringNotLike={"lifecycle": "*ephemeral*"}))
    assert not_like.matches(BUCKET, {}) and not not_like.matches(BUCKET, {"lifecycle": "very-ephemeral-1"})
    single = matcher(**cond(StringLike={"v": "a?c"}))
    assert single.matches(BUCKET, {"v": "abc"}) and not single.matches(BUCKET, {"v": "abbc"})


def test_list_of_tags_is_ored_with_resources() -> None:
    m = matcher(Resources=[TABLE], ListOfTags=[
        {"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "daily"},
        {"ConditionType": "STRINGEQUALS", "ConditionKey": "aws:ResourceTag/backup", "ConditionValue": "critical"}])
    assert m.matches(TABLE, {}) and m.matches(BUCKET, {"backup": "daily"}) and m.matches(VOLUME, {"backup": "critical"})
    assert not m.matches(BUCKET, {"backup": "weekly"})


def test_not_resources_exclude_after_everything_else() -> None:
    m = matcher(Resources=["arn:aws:s3:::*", "arn:aws:dynamodb:*:*:table/*"],
                NotResources=["arn:aws:s3:::*-scratch", "arn:aws:dynamodb:*:*:table/tmp-*"],
                **cond(StringEquals={"env": "prod"}))
    prod = {"env": "prod"}
    assert m.matches(BUCKET, prod) and m.matches(TABLE, prod)
    assert not m.matches(SCRATCH, prod) and not m.matches(TMP_TABLE, prod) and not m.matches(BUCKET, {})


def test_the_aws_selection_fixture_selects_as_documented() -> None:
    m = matcher(Resources=["arn:aws:s3:::*", "arn:aws:dynamodb:*:*:table/*"],
                NotResources=["arn:aws:s3:::*-scratch"],
                **cond(StringEquals={"environment": "prod"}, StringLike={"team": "pay*"},
                       StringNotEquals={"backup": "none"}, StringNotLike={"lifecycle": "*ephemeral*"}))
    tags = {"environment": "prod", "team": "payments"}
    assert m.matches(BUCKET, tags)
    assert not m.matches(BUCKET, {**tags, "backup": "none"})
    assert not m.matches(BUCKET, {**tags, "lifecycle": "ephemeral"})
    assert not m.matches(VOLUME, tags)


@given(st.text(alphabet="ab*?", max_size=6), st.text(alphabet="ab", max_size=8))
def test_wildcards_mean_what_they_mean_in_iam(pattern: str, value: str) -> None:
    # fnmatch's * and ? are IAM's (no [...] classes in the alphabet): the same answer for every string.
    m = matcher(**cond(StringLike={"k": pattern}))
    assert m.matches(BUCKET, {"k": value}) == fnmatch.fnmatchcase(value, pattern)


# ---- what the scan can leave to AWS ------------------------------------------------------------------
def test_scan_filters_push_down_what_holds_for_every_selection() -> None:
    tagged = matcher(Resources=["arn:aws:s3:::*"], **cond(StringEquals={"env": "prod"}))
    filters = scan_filters([tagged])
    assert filters.tag_filters == (("env", "prod"),) and filters.type_filters == frozenset({"s3"})
    table = matcher(Resources=["arn:aws:dynamodb:*:*:table/*"])
    both = scan_filters([tagged, table])
    assert both.tag_filters == () and both.type_filters == frozenset({"s3", "dynamodb:table"})
    assert scan_filters([tagged, matcher(Resources=["*"])]).type_filters is None
    assert scan_filters([matcher(ListOfTags=[{"ConditionType": "STRINGEQUALS", "ConditionKey": "a",
                                              "ConditionValue": "b"}])]).type_filters is None


def test_untagged_resources_need_a_listing_only_when_they_can_match() -> None:
    wildcard = matcher(Resources=["arn:aws:s3:::*"])
    assert needs_discovery(wildcard, ResourceType.S3) and not needs_discovery(wildcard, ResourceType.DYNAMODB)
    assert needs_discovery(matcher(), ResourceType.DYNAMODB)  # everything
    assert not needs_discovery(matcher(Resources=["arn:aws:s3:::*"], **cond(StringEquals={"a": "b"})),
                               ResourceType.S3)  # a tag is required: the Tagging API lists all candidates
    assert not needs_discovery(matcher(Resources=[BUCKET]), ResourceType.S3)  # named: looked up directly
    assert matcher(Resources=[BUCKET, "arn:aws:s3:::x-*"]).literal_arns == (BUCKET,)
    assert needs_discovery(matcher(**cond(StringNotEquals={"backup": "none"})), ResourceType.S3)


def test_classify_reports_unsupported_types_with_the_reason() -> None:
    supported = frozenset({ResourceType.S3, ResourceType.DYNAMODB})
    assert classify(BUCKET, supported).resource_type is ResourceType.S3
    volume = classify(VOLUME, supported)
    assert volume.resource_type is None and volume.reason == "EBS resources have no adapter yet"
    queue = classify(QUEUE, supported)
    assert queue.resource_type is None and "is not a resource type Coffer protects" in (queue.reason or "")


def test_matching_100_resources_against_a_selection_is_pure_and_repeatable() -> None:
    m = matcher(Resources=["*"], **cond(StringEquals={"tier": "gold"}))
    resources = [(f"arn:aws:s3:::b-{i}", {"tier": "gold" if i % 10 == 0 else "silver"}) for i in range(100)]
    assert sum(m.matches(a, t) for a, t in resources) == 10
    assert [m.matches(a, t) for a, t in resources] == [m.matches(a, t) for a, t in resources]


@pytest.mark.parametrize("pattern", ["*", "arn:aws:*"])
def test_star_patterns_match_every_type(pattern: str) -> None:
    assert all(matcher(Resources=[pattern]).matches(arn, {}) for arn in (BUCKET, TABLE, VOLUME, QUEUE))


# ---- the compiled predicate against a straightforward reading of the rules ---------------------------------
def glob(pattern: str, text: str) -> bool:
    """IAM's wildcards by dynamic programming: ``*`` any run of characters (also none), ``?`` exactly one."""

    @functools.cache
    def at(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(text)
        if pattern[i] == "*":
            return at(i + 1, j) or (j < len(text) and at(i, j + 1))
        return j < len(text) and pattern[i] in ("?", text[j]) and at(i + 1, j + 1)

    return at(0, 0)


def reference(selection: BackupSelection, arn: str, tags: dict[str, str]) -> bool:
    """AWS Backup's rule as documented, read the slow and obvious way."""

    def key(condition_key: str) -> str:
        return condition_key.removeprefix("aws:ResourceTag/")

    c = selection.conditions
    resources, listed = selection.resources or [], selection.list_of_tags or []
    candidate = (not resources and not listed) or any(glob(p, arn) for p in resources) or any(
        key(t.condition_key) in tags and tags[key(t.condition_key)] == t.condition_value for t in listed)
    equals = all(key(p.condition_key) in tags and tags[key(p.condition_key)] == p.condition_value
                 for p in (c.string_equals if c else None) or [])
    not_equals = all(key(p.condition_key) not in tags or tags[key(p.condition_key)] != p.condition_value
                     for p in (c.string_not_equals if c else None) or [])
    like = all(key(p.condition_key) in tags and glob(p.condition_value, tags[key(p.condition_key)])
               for p in (c.string_like if c else None) or [])
    not_like = all(key(p.condition_key) not in tags or not glob(p.condition_value, tags[key(p.condition_key)])
                   for p in (c.string_not_like if c else None) or [])
    excluded = any(glob(p, arn) for p in selection.not_resources or [])
    return candidate and equals and not_equals and like and not_like and not excluded


# Small alphabets, so that patterns and resources meet often; quotes, backslashes, newlines and regex
# metacharacters, so that no text of a selection can change the code it is compiled into.
_TEXT = "ab:/-.*?'\"\\\n(|$"
_KEYS = ["env", "team", "aws:ResourceTag/env", "aws:ResourceTag/team", "x'y", "a\nb", "_0", "get"]
patterns = st.text(alphabet=_TEXT, max_size=7)
subjects = st.text(alphabet=_TEXT.replace("*", "").replace("?", ""), max_size=7)
parameters = st.lists(st.fixed_dictionaries({"ConditionKey": st.sampled_from(_KEYS), "ConditionValue": patterns}),
                      max_size=2)
selections = st.fixed_dictionaries({"SelectionName": st.just("s")}, optional={
    "Resources": st.lists(st.one_of(patterns, st.sampled_from(["*", "arn:*", "arn:a*", "*b", "*:*"])), max_size=3),
    "NotResources": st.lists(patterns, max_size=2),
    "ListOfTags": st.lists(st.fixed_dictionaries({"ConditionType": st.just("STRINGEQUALS"),
                                                  "ConditionKey": st.sampled_from(_KEYS),
                                                  "ConditionValue": subjects}), max_size=2),
    "Conditions": st.fixed_dictionaries({}, optional={op: parameters for op in (
        "StringEquals", "StringNotEquals", "StringLike", "StringNotLike")}),
})
resources = st.tuples(st.one_of(subjects, subjects.map(lambda s: "arn:" + s)),
                      st.dictionaries(st.sampled_from([k.removeprefix("aws:ResourceTag/") for k in _KEYS]),
                                      subjects, max_size=3))


@settings(max_examples=400, deadline=None)
@given(selections, st.lists(resources, min_size=1, max_size=6))
def test_the_compiled_selection_answers_as_the_documented_rule_does(body: dict[str, Any],
                                                                    fleet: list[tuple[str, dict[str, str]]]) -> None:
    selection = BackupSelection.model_validate(body)
    compiled = SelectionMatcher(selection)
    for arn, tags in fleet:
        assert compiled.matches(arn, tags) == reference(selection, arn, tags), (body, arn, tags)


@given(patterns, subjects)
def test_every_pattern_shape_matches_as_iam_wildcards_do(pattern: str, value: str) -> None:
    # prefix, suffix, infix, literal, all-stars and general patterns each take their own path in the compiler
    like = matcher(**cond(StringLike={"k": pattern}))
    arn = matcher(Resources=[pattern])
    assert like.matches(BUCKET, {"k": value}) == glob(pattern, value)
    assert arn.matches(value, {}) == glob(pattern, value)


def test_no_text_of_a_selection_becomes_code() -> None:
    hostile = "x'); __import__('os').system('false'); ('"
    body = {"Resources": [hostile, "arn:*\n    return True\n"], "NotResources": ["\\Z*"],
            "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "__builtins__",
                            "ConditionValue": hostile}],
            **cond(StringEquals={"get": hostile}, StringLike={hostile: "*" + hostile + "?"},
                   StringNotLike={"a\nb": "(|$*"})}
    selection = BackupSelection.model_validate({"SelectionName": "s", **body})
    compiled = SelectionMatcher(selection).matches
    texts = {hostile, "arn:*\n    return True\n", "__builtins__", "get", "(|$*", "\\Z*"}
    code = compiled.__code__
    assert not texts & {c for c in code.co_consts if isinstance(c, str)}
    assert not texts & (set(code.co_names) - {"get"}) and "__import__" not in code.co_names
    assert compiled.__globals__["__builtins__"] == {}
    for arn, tags in [(hostile, {"get": hostile, "__builtins__": hostile, hostile: hostile + "!"}),
                      ("arn:x", {"get": hostile, hostile: "x" + hostile + "y", "a\nb": "z"}),
                      ("arn:x\n    return True\n", {})]:
        assert compiled(arn, tags) == reference(selection, arn, tags)
