"""Every package the source imports is installed by the README's first command (`pip install -e .`,
no dev extra): a runtime dependency of ours, or one that a dependency we name brings."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "makerfirst"
# Import name → distribution name, where they differ.
DISTRIBUTION_OF = {"yaml": "pyyaml", "jwt": "pyjwt", "prometheus_client": "prometheus-client"}
# Imported only through the package that depends on them, which we name.
BROUGHT_BY = {"starlette": "fastapi", "pydantic_core": "pydantic", "annotated_types": "pydantic"}


def imported_packages() -> set[str]:
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "makerfirst"}


def runtime_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {re.split(r"[\[<>=!~ ]", spec, maxsplit=1)[0].lower() for spec in project["dependencies"]}


def test_every_imported_package_is_a_runtime_dependency() -> None:
    declared = runtime_distributions()
    missing = sorted(
        name
        for name in imported_packages()
        if DISTRIBUTION_OF.get(name, BROUGHT_BY.get(name, name)).replace("_", "-") not in declared
    )
    assert missing == [], f"imported by src/ but not in [project] dependencies: {missing}"
