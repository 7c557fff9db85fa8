"""Immutable files and folders for tests of unwritable outputs: ``chattr +i`` is refused
even to root (a chmod is not), so the checks are tested wherever the suite runs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """Make `paths` immutable for the ``with`` block (the test is skipped where
    ``chattr +i`` is not available: no tool, no capability, or a filesystem without it)."""
    done: list[Path] = []
    try:
        for path in paths:
            try:
                failed = subprocess.run(["chattr", "+i", str(path)],
                                        capture_output=True).returncode
            except FileNotFoundError:
                failed = True
            if failed:
                pytest.skip("chattr +i is not available here")
            done.append(path)
        yield
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], check=True)
