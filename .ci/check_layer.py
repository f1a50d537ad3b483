"""Check a built Lambda layer (`sam build` output): production code only, and within Lambda's size limit.

Usage: check_layer.py BUILD_DIR/CofferLayer [MAX_UNZIPPED_BYTES]

Refuses the emulator, the CLI and their dependencies (moto, the SAM translator) and any module of the coffer
package that imports them; prints the layer's size and fails when it exceeds the limit (Lambda's 250 MB for a
function and all its layers unzipped, less room for the function's own code).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

#: top-level packages that must never be in what Lambda runs
FORBIDDEN = ("coffer_twin", "coffer_cli", "moto", "samtranslator", "pytest", "hypothesis")
#: Lambda: 262,144,000 bytes unzipped for a function and all its layers; the functions' own code is a few KB each
DEFAULT_LIMIT = 240 * 1024 * 1024


def problems(layer: Path, limit: int = DEFAULT_LIMIT) -> list[str]:
    python = layer / "python"
    found: list[str] = []
    if not (python / "coffer" / "__init__.py").is_file():
        found.append(f"{python}: no coffer package")
    for name in FORBIDDEN:
        if (python / name).exists() or any(python.glob(f"{name}-*.dist-info")) or (python / f"{name}.py").exists():
            found.append(f"{python}: holds {name}, which is not production code")
    for module in sorted((python / "coffer").rglob("*.py")):
        tree = ast.parse(module.read_text(), str(module))
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for imported in names:
                if imported.split(".")[0] in FORBIDDEN:
                    found.append(f"{module.relative_to(python)}:{node.lineno}: imports {imported}")
    size = sum(f.stat().st_size for f in layer.rglob("*") if f.is_file())
    if size > limit:
        found.append(f"{layer}: {size:,} bytes unzipped, over the limit of {limit:,}")
    return found


def main(argv: list[str]) -> int:
    layer = Path(argv[1])
    limit = int(argv[2]) if len(argv) > 2 else DEFAULT_LIMIT
    found = problems(layer, limit)
    size = sum(f.stat().st_size for f in layer.rglob("*") if f.is_file())
    print(f"layer {layer}: {size / 1024**2:.1f} MiB unzipped (limit {limit / 1024**2:.0f} MiB)")
    for line in found:
        print(f"layer check: {line}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
