"""Which code made a result: the package version plus a digest of the source files.

Result and cache keys include `code_version(...)`, so a result made by other code is
never reused silently: the static version number alone does not change when the code
does. The digest covers every ``.py`` file of the named packages (read once per process,
found without importing them).
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.util import find_spec
from pathlib import Path

#: The release number (also in pyproject.toml).
__version__ = "0.1.0"


@cache
def source_digest(package: str) -> str:
    """sha256 (16 hex digits) of the relative paths and bytes of `package`'s .py files."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{package!r} is not an importable package")
    root = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def code_version(*packages: str) -> str:
    """``VERSION+pkg:DIGEST+...`` for `packages` (bpm_edit, pipelines, evaluation)."""
    return "+".join([__version__, *(f"{name}:{source_digest(name)}" for name in packages)])


__all__ = ["__version__", "code_version", "source_digest"]
