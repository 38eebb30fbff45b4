"""The model is not part of the product: nothing under autopipe/ imports moto, only the
rehearse command imports ecs_model and testbed (inside its functions), and says so when it
cannot."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

from autopipe.commands import rehearse
from autopipe.errors import ConfigError
from autopipe.output import Reporter

ROOT = Path(__file__).resolve().parents[2]


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at module level) for every import in the file."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, id(node) in top))
    return found


def test_autopipe_never_imports_moto_and_ecs_model_only_lazily() -> None:
    seen = {}
    for path in sorted((ROOT / "autopipe").rglob("*.py")):
        for module, top_level in imports(path):
            root = module.split(".")[0]
            assert root != "moto", f"{path} imports {module}"
            if root in {"ecs_model", "testbed"}:  # neither is in the wheel
                seen[path.relative_to(ROOT).as_posix(), root] = top_level
    assert seen == {
        ("autopipe/commands/rehearse.py", "ecs_model"): False,
        ("autopipe/commands/rehearse.py", "testbed"): False,
        ("autopipe/commands/rehearse_load.py", "ecs_model"): False,
        ("autopipe/commands/rehearse_load.py", "testbed"): False,
    }


def test_the_wheel_carries_the_product_only() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["app", "autopipe"]
    assert "ecs_model" in config["tool"]["mypy"]["packages"]


def test_rehearse_without_the_model_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ecs_model", None)  # import fails as if not installed
    with pytest.raises(ConfigError) as error:
        rehearse.run(rehearse.RehearseOptions(docker="never"), Reporter())
    message = str(error.value)
    assert message.startswith("rehearse needs the ecs_model package and moto[server]")
    assert "\n" not in message
