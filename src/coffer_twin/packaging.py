"""What ``sam package`` does to local paths, done in memory for the twin.

Local ``CodeUri``/``ContentUri`` become an S3 location in the twin's artifacts bucket (moto's Lambda
wants the object to exist, so the twin uploads one tiny zip there), and a local ``DefinitionUri`` is
inlined as ``Definition`` because moto's CloudFormation only reads ``DefinitionString``. What the
rewrite throws away — where each function's code really lives and which handler it names — is kept
in :class:`FunctionSource` so the twin can run the real handler file in-process.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cfn_yaml import loads_template

__all__ = ["FunctionSource", "PackagedTemplate", "package_template", "placeholder_zip"]

_SERVERLESS_FUNCTION = "AWS::Serverless::Function"
_LAMBDA_FUNCTION = "AWS::Lambda::Function"
_SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"
_LAMBDA_LAYER = "AWS::Lambda::LayerVersion"
_SERVERLESS_STATE_MACHINE = "AWS::Serverless::StateMachine"
_STATE_MACHINE = "AWS::StepFunctions::StateMachine"


@dataclass(frozen=True)
class FunctionSource:
    """Where a function's real code lives (None when it is not a local directory)."""

    logical_id: str
    code_dir: Path | None
    handler: str | None

    @property
    def handler_file(self) -> Path | None:
        """``<code_dir>/<module path>.py`` for a Python handler ``module.func``."""
        if self.code_dir is None or not self.handler or "." not in self.handler:
            return None
        module_path = self.handler.rsplit(".", 1)[0].replace(".", "/")
        for candidate in (self.code_dir / f"{module_path}.py", self.code_dir / module_path / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    @property
    def handler_function(self) -> str | None:
        return self.handler.rsplit(".", 1)[1] if self.handler and "." in self.handler else None


@dataclass(frozen=True)
class PackagedTemplate:
    template: dict[str, Any]
    functions: dict[str, FunctionSource]
    layer_dirs: tuple[Path, ...]


def placeholder_zip() -> bytes:
    """A valid, tiny zip: moto reads the object for code size/sha but never runs it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "code is run in-process by coffer.twin\n")
    return buffer.getvalue()


def _is_local(uri: Any) -> bool:
    return isinstance(uri, str) and not uri.startswith("s3://")


def _local_dir(base: Path, uri: Any) -> Path | None:
    if not _is_local(uri):
        return None
    path = (base / str(uri)).resolve()
    return path if path.is_dir() else None


def _load_definition(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else loads_template(text)


def package_template(template: dict[str, Any], base_dir: Path, bucket: str, key: str) -> PackagedTemplate:
    """Return a copy of ``template`` with local artifacts rewritten, plus where the code really is.

    ``base_dir`` is the template's directory (local paths are relative to it, as for ``sam``).
    """
    packaged = copy.deepcopy(template)
    s3_uri = f"s3://{bucket}/{key}"
    s3_code = {"S3Bucket": bucket, "S3Key": key}

    globals_function: dict[str, Any] = packaged.get("Globals", {}).get("Function", {}) or {}
    global_code_uri = globals_function.get("CodeUri")
    global_handler = globals_function.get("Handler")
    if _is_local(global_code_uri):
        globals_function["CodeUri"] = s3_uri

    functions: dict[str, FunctionSource] = {}
    layer_dirs: list[Path] = []
    for logical_id, resource in (packaged.get("Resources") or {}).items():
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        if kind == _SERVERLESS_FUNCTION:
            code_uri = props.get("CodeUri", global_code_uri)
            if "InlineCode" not in props:
                functions[logical_id] = FunctionSource(
                    logical_id, _local_dir(base_dir, code_uri), props.get("Handler", global_handler)
                )
            if _is_local(props.get("CodeUri")):
                props["CodeUri"] = s3_uri
        elif kind == _LAMBDA_FUNCTION:
            code = props.get("Code")
            functions[logical_id] = FunctionSource(logical_id, _local_dir(base_dir, code), props.get("Handler"))
            if _is_local(code):
                props["Code"] = dict(s3_code)
        elif kind == _SERVERLESS_LAYER and _is_local(props.get("ContentUri")):
            if (content := _local_dir(base_dir, props["ContentUri"])) is not None:
                layer_dirs.append(content)
            props["ContentUri"] = s3_uri
        elif kind == _LAMBDA_LAYER and _is_local(props.get("Content")):
            if (content := _local_dir(base_dir, props["Content"])) is not None:
                layer_dirs.append(content)
            props["Content"] = dict(s3_code)
        elif kind == _SERVERLESS_STATE_MACHINE and _is_local(props.get("DefinitionUri")):
            props["Definition"] = _load_definition(base_dir / props.pop("DefinitionUri"))
        elif kind == _STATE_MACHINE and _is_local(props.get("DefinitionS3Location")):
            definition = _load_definition(base_dir / props.pop("DefinitionS3Location"))
            props["DefinitionString"] = json.dumps(definition)
    return PackagedTemplate(packaged, functions, tuple(layer_dirs))
