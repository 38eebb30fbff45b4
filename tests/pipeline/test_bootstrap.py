"""The Makefile's bootstrap on machines it cannot see: which interpreter it picks (and what it
says) for the Pythons a machine may have, and uv's bootstrap failing with a clear line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def fake_pythons(tmp_path: Path, versions: dict[str, str]) -> Path:
    """A PATH holding only fake interpreters that report the given versions."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, version in versions.items():
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\necho {' '.join(version.split('.'))}\n")
        script.chmod(0o755)
    return bin_dir


def pick(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(ROOT / "scripts/dev/python.sh")],
        env={"PATH": str(path), **env}, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("machine", "chosen", "warned"),
    [
        ({"python3": "3.11.2"}, "python3", True),  # Debian 12: the only Python, affected
        ({"python3": "3.12.3"}, "python3", False),  # Ubuntu 24.04
        ({"python3": "3.11.2", "python3.12": "3.12.8"}, "python3.12", False),
        ({"python3": "3.11.7", "python3.13": "3.13.0"}, "python3.13", False),
        ({"python3.11": "3.11.9", "python3": "3.10.12"}, "python3.11", False),
        ({"python3.12": "3.12.1", "python3": "3.11.2"}, "python3.12", True),  # first affected
    ],
)
def test_the_first_supported_interpreter_is_picked(
    tmp_path: Path, machine: dict[str, str], chosen: str, warned: bool
) -> None:
    result = pick(fake_pythons(tmp_path, machine))
    assert result.returncode == 0
    assert result.stdout.strip() == chosen
    assert ("gh-106905" in result.stderr) is warned


def test_no_supported_interpreter_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = pick(fake_pythons(tmp_path, {"python3": "3.10.12"}))
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "3.11.8+" in result.stderr


def test_python_names_the_interpreter_to_use(tmp_path: Path) -> None:
    bin_dir = fake_pythons(tmp_path, {"python3": "3.11.2", "mypython": "3.13.1"})
    result = pick(bin_dir, PYTHON="mypython")
    assert result.stdout.strip() == "mypython"


def test_uv_bootstrap_without_venv_support_says_what_to_install(tmp_path: Path) -> None:
    python = tmp_path / "python3"
    python.write_text("#!/bin/sh\necho 'No module named venv' >&2\nexit 1\n")
    python.chmod(0o755)
    script = str(ROOT / "scripts/dev/uv.sh")
    result = subprocess.run(
        ["/bin/bash", script, str(tmp_path / "bin"), "0.13.9", str(python)],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "apt-get install python3-venv" in result.stderr
    assert "astral.sh/uv/install.sh" in result.stderr
    assert not (tmp_path / "bin" / "uv").exists()
