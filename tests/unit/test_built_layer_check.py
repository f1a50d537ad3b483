"""The built-layer check (.ci/check_layer.py, run on `sam build` output by .ci/template_checks.sh) refuses every
way emulator or CLI code could reach Lambda, and an oversized layer; and the layer source itself holds none."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layer", ROOT / ".ci" / "check_layer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_layer"] = module
    spec.loader.exec_module(module)
    return module


def _layer(tmp_path: Path) -> Path:
    python = tmp_path / "CofferLayer" / "python"
    (python / "coffer" / "domain").mkdir(parents=True)
    (python / "coffer" / "__init__.py").write_text("")
    (python / "coffer" / "domain" / "rules.py").write_text("import json\nfrom pydantic import BaseModel\n")
    (python / "pydantic").mkdir()
    return tmp_path / "CofferLayer"


def test_a_layer_of_production_code_passes(tmp_path: Path) -> None:
    assert _checker().problems(_layer(tmp_path)) == []


@pytest.mark.parametrize("planted", ["moto", "coffer_twin", "coffer_cli", "samtranslator"])
def test_a_layer_holding_the_emulator_the_cli_or_their_dependencies_is_refused(tmp_path: Path, planted: str) -> None:
    layer = _layer(tmp_path)
    (layer / "python" / planted).mkdir()
    assert [p for p in _checker().problems(layer) if planted in p]


def test_a_dist_info_alone_is_refused_too(tmp_path: Path) -> None:
    layer = _layer(tmp_path)
    (layer / "python" / "moto-5.2.5.dist-info").mkdir()
    assert _checker().problems(layer)


@pytest.mark.parametrize("line", ["import moto", "from moto import mock_aws", "from coffer_twin.twin import Twin",
                                  "import samtranslator.translator"])
def test_a_coffer_module_importing_them_is_refused_naming_the_line(tmp_path: Path, line: str) -> None:
    layer = _layer(tmp_path)
    (layer / "python" / "coffer" / "sneaky.py").write_text(f"def f():\n    {line}\n")
    found = _checker().problems(layer)
    assert found and "coffer/sneaky.py:2" in found[0]


def test_a_layer_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    layer = _layer(tmp_path)
    (layer / "python" / "pydantic" / "blob.bin").write_bytes(b"\0" * 4096)
    assert _checker().problems(layer, limit=4000)
    assert not _checker().problems(layer, limit=1_000_000)


def test_the_layer_source_holds_only_the_coffer_package_and_passes_the_same_check(tmp_path: Path) -> None:
    """What `sam build` packs (CofferLayer's ContentUri, layers/) holds the coffer package and its requirements only,
    and no module of it imports the emulator, the CLI or their dependencies."""
    import shutil

    layers = ROOT / "layers"
    assert sorted(p.name for p in layers.iterdir() if not p.name.endswith(".egg-info")
                  and p.name != "__pycache__") == ["coffer", "requirements.txt"]
    requirements = (layers / "requirements.txt").read_text().lower()
    assert "moto" not in requirements and "sam-translator" not in requirements
    built = tmp_path / "CofferLayer" / "python"
    shutil.copytree(layers / "coffer", built / "coffer")
    assert _checker().problems(built.parent) == []
