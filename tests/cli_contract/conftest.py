"""Shared helpers of the CLI contract tests: run a command in a subprocess as a user
would, and prove its inputs are byte-for-byte unchanged afterwards."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def fingerprints(paths: list[Path]) -> dict[str, str | None]:
    """sha256 of every file under `paths` (a folder: each file in it); None if absent."""
    found: dict[str, str | None] = {}
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            found[str(file)] = hashlib.sha256(file.read_bytes()).hexdigest() \
                if file.is_file() else None
    return found


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_command(argv: list[str], cwd: Path, timeout: float = 300) -> Outcome:
    """`argv` (e.g. ["-m", "bpm_edit.cli", "score", ...] or [script, ...]) under this
    interpreter, offline, with the checkout importable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    return Outcome(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def contract():
    """Check one contract case: exit code, message, no traceback, inputs unchanged."""
    def check(argv: list[str], cwd: Path, inputs: list[Path], code: int, message: str):
        before = fingerprints(inputs)
        outcome = run_command(argv, cwd)
        assert outcome.code == code, (outcome.stdout, outcome.stderr)
        assert message in outcome.stderr + outcome.stdout, outcome.stderr
        assert "Traceback" not in outcome.stderr, outcome.stderr
        assert fingerprints(inputs) == before
        return outcome
    return check
