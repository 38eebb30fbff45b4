"""docs/deployer.md documents every command (with an example) and every exit code."""

from __future__ import annotations

import re

from autopipe import errors
from autopipe.cli import app
from tests.support.moto import ROOT

DOCS = (ROOT / "docs" / "deployer.md").read_text()


def test_every_command_has_a_section_with_an_example() -> None:
    names = {c.name for c in app.registered_commands}
    assert names == {"render", "verify", "diff", "deploy", "rollback", "status", "wait", "lock",
                     "notify", "local", "rehearse"}  # fmt: skip
    for name in names:
        section = DOCS.split(f"### {name}\n", 1)[1].split("\n### ", 1)[0]
        assert f"autopipe {name}" in section or "make rehearse" in section, name
        assert "```console" in section, name


def test_every_exit_code_is_documented() -> None:
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", DOCS, flags=re.MULTILINE)}
    codes = {cls.exit_code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.AutopipeError)}  # fmt: skip
    assert documented == codes | {0} == set(errors.EXIT_CODES)
