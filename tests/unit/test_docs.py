"""The docs are true: every test they name exists, every path they name exists, the site builds strictly (no
broken link or anchor), the README stays short, no issue number reaches a reader, and the pages that restate the
template or the bench say what the template and the bench say."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from coffer_twin.cfn_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"

#: `tests/<path>.py::test_name`, or `tests/<path>.py::Class::test_name`
TEST_REFERENCE = re.compile(r"\b(tests/[\w/]+\.py)::(\w+(?:::\w+)?)")
#: "issue 8", "Issue 10": numbers a reader of the docs cannot follow
ISSUE_NUMBER = re.compile(r"\bissue [0-9]+", re.IGNORECASE)
#: a repository path in a code span or a link: `functions/copy_batch/`, `statemachines/sweep.asl.json`
REPO_PATH = re.compile(r"[`(]((?:bench|events|examples|functions|layers|member|scripts|src|statemachines|tests|\.ci)"
                       r"/[\w./-]*)[`)]")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def read_by_users() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


@cache
def defined_tests(test_file: Path) -> frozenset[str]:
    """`test_x` for module-level tests, `Class::test_x` for methods, as pytest names them."""
    tree = ast.parse(test_file.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.update(f"{node.name}::{item.name}" for item in node.body
                         if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef))
    return frozenset(names)


def missing_tests(text: str, root: Path = ROOT) -> list[str]:
    """Every `tests/...py::name` reference in `text` whose file or test does not exist."""
    missing = []
    for path, name in TEST_REFERENCE.findall(text):
        test_file = root / path
        if not test_file.is_file() or name not in defined_tests(test_file):
            missing.append(f"{path}::{name}")
    return missing


def _where(pattern: re.Pattern[str], files: Iterable[Path]) -> list[str]:
    return [f"{f.relative_to(ROOT)}:{n}: {line.strip()}" for f in files
            for n, line in enumerate(f.read_text().splitlines(), 1) if pattern.search(line)]


# ---- every promise names a test that exists -------------------------------------------------------
def test_every_test_the_docs_name_exists() -> None:
    missing = {f"{f.relative_to(ROOT)}: {m}" for f in read_by_users() for m in missing_tests(f.read_text())}
    assert sorted(missing) == []


def test_the_docs_name_tests_on_every_capability_page() -> None:
    pages = sorted((DOCS / "capabilities").glob("*.md"))
    assert len(pages) >= 15
    assert [p.name for p in pages if not TEST_REFERENCE.search(p.read_text())] == []


def test_a_reference_to_a_test_that_does_not_exist_is_caught() -> None:
    text = ("held by `tests/unit/test_jobs.py::test_a_terminal_job_never_changes_state_again`, "
            "`tests/unit/test_jobs.py::test_jobs_are_magic`, `tests/unit/test_nowhere.py::test_anything` and "
            "`tests/unit/test_docs.py::test_a_reference_to_a_test_that_does_not_exist_is_caught`")
    assert missing_tests(text) == ["tests/unit/test_jobs.py::test_jobs_are_magic",
                                   "tests/unit/test_nowhere.py::test_anything"]


def test_methods_of_test_classes_count_as_tests(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("class TestX:\n    def test_y(self):\n        pass\n")
    assert missing_tests("`tests/test_x.py::TestX::test_y` `tests/test_x.py::test_y`", tmp_path) == [
        "tests/test_x.py::test_y"]


# ---- nothing a reader cannot follow -------------------------------------------------------------------
def test_the_readme_and_the_docs_name_no_issue_numbers() -> None:
    assert _where(ISSUE_NUMBER, [*read_by_users(), ROOT / "mkdocs.yml"]) == []


def test_an_issue_number_is_caught_however_it_is_written() -> None:
    for text in ("see issue 8", "(Issue 10)", "ISSUE 7: copies"):
        assert ISSUE_NUMBER.search(text), text
    for text in ("issues", "an issue", "issue-free", "tissue 3"):
        assert not ISSUE_NUMBER.search(text), text


def test_every_repository_path_the_docs_name_exists() -> None:
    named = {(f.relative_to(ROOT), m) for f in read_by_users() for m in REPO_PATH.findall(f.read_text())}
    missing = sorted(f"{page}: {path}" for page, path in named
                     if "<" not in path and "*" not in path and not (ROOT / path).exists())
    assert missing == []


def test_the_readme_is_short_keeps_the_two_commands_and_its_links_resolve() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    assert "bash scripts/demo" in text and "bash scripts/test" in text
    links = [link.split("#")[0] for link in MARKDOWN_LINK.findall(text) if "://" not in link]
    assert links, "the README links into the docs"
    assert [link for link in links if not (ROOT / link).exists()] == []
    assert (ROOT / "LICENSE").is_file()


def test_contracts_live_in_the_site_only() -> None:
    assert not (DOCS / "CONTRACTS.md").exists()
    assert (DOCS / "reference" / "contracts.md").is_file()


# ---- the site builds, strictly ------------------------------------------------------------------------
def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                           cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})  # Material's end-of-life banner
    assert built.returncode == 0, built.stdout + built.stderr
    assert "WARNING" not in built.stderr, built.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def test_every_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    listed = set(re.findall(r"^\s*-\s+(?:[^:\n]+:\s+)?([\w/.-]+\.md)\s*$", nav, re.MULTILINE))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert sorted(pages - listed) == []


# ---- pages that restate the template or the bench say what they say -----------------------------------
@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def _contracts() -> str:
    return (DOCS / "reference" / "contracts.md").read_text()


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def test_the_contracts_page_lists_every_function_with_its_code(template: dict[str, Any]) -> None:
    functions = {name: resource["Properties"]["CodeUri"] for name, resource in template["Resources"].items()
                 if resource["Type"] == "AWS::Serverless::Function"}
    table = _section(_contracts(), "Lambda functions")
    listed = dict(re.findall(r"^\| `(\w+Function)` \| `(functions/\w+/)` \|", table, re.MULTILINE))
    assert listed == functions


def test_the_contracts_page_lists_the_functions_environment_and_the_stack_outputs(
        template: dict[str, Any]) -> None:
    environment = set(template["Globals"]["Function"]["Environment"]["Variables"])
    listed = set(re.findall(r"^\| `([A-Z_]+)` \|", _section(_contracts(), "Lambda functions"), re.MULTILINE))
    assert listed == environment
    outputs = set(re.findall(r"`(\w+)`", _section(_contracts(), "Stack outputs").split("\n\n")[2]))
    assert outputs == set(template["Outputs"])


def test_the_parameters_page_lists_every_template_parameter_with_its_default(
        template: dict[str, Any]) -> None:
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", (DOCS / "reference" / "parameters.md").read_text(),
                           re.MULTILINE))
    expected = {name: f"`{p['Default']}`" if p.get("Default", "") != "" else "(empty)"
                for name, p in template["Parameters"].items()}
    assert {name: value.strip() for name, value in rows.items()} == expected


def test_the_performance_page_shows_the_per_job_figures_of_bench_results() -> None:
    results = json.loads((ROOT / "bench" / "results.json").read_text())["per_type"]
    expected = {
        (kind, job): f"{f['api_calls']:,} ({f['api_calls_by_handlers']:,} + {f['api_calls_by_step_functions']:,}) | "
                     f"{f['state_transitions']} | {f['lambda_invocations']} | {f['data_bytes_through_lambda']} | "
                     f"{f['catalog_reads']} / {f['catalog_writes']} ({f['catalog_scans']})"
        for kind, jobs in results.items() for job, f in jobs.items()}
    shown = {(kind, job): row.strip() for kind, job, row in re.findall(
        r"^\| (\w+) \| (backup|restore|copy) \| (.+) \|$", (DOCS / "performance.md").read_text(), re.MULTILINE)}
    assert shown == expected
