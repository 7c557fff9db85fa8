"""What result keys are made of beyond the settings: the code version (not the static
release number, which stays the same while the code changes)."""

from __future__ import annotations

from bpm_edit import version
from evaluation import runner


def test_the_code_version_follows_the_sources(monkeypatch):
    before = runner.scoring_code()
    assert before.startswith(version.__version__ + "+bpm_edit:")
    assert "+evaluation:" in before
    monkeypatch.setattr(version, "source_digest", lambda package: f"{package}-edited")
    assert runner.scoring_code() != before


def test_the_source_digest_covers_every_file(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    version.source_digest.cache_clear()
    first = version.source_digest("pkg")
    (package / "a.py").write_text("x = 2\n")
    version.source_digest.cache_clear()
    assert version.source_digest("pkg") != first
    version.source_digest.cache_clear()
