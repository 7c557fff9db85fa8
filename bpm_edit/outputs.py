"""The one check of a command's output paths, run BEFORE any work.

Every command that writes files calls `check_output_file` (one result file) or
`check_output_dir` (a folder of named result files) on each output path as soon as its
arguments are read, before loading models or reading data. Each refuses, with one
`InputError` naming the flag and the path:

- an output that is one of the command's inputs (the same file, however it is spelled:
  `os.path.samefile`), or a folder whose result files would overwrite an input;
- an existing file that is not this command's own result file (`accepts`), or a folder
  holding anything but the command's result files (`writes`): they are never overwritten
  or appended to;
- a directory where a file is needed, or a file where a directory is needed;
- a place that cannot be written: an existing read-only or immutable file or folder, or a
  new path whose nearest existing parent is not a writable directory (`os.access`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from bpm_edit.errors import InputError

PathLike = str | os.PathLike[str]
#: Input paths by the flag that gave them (None: not given), e.g. {"--file": "in.txt"}.
Inputs = Mapping[str, PathLike | None]


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _input_at(path: Path, inputs: Inputs) -> str | None:
    """The flag of the input that is `path` (None: no input is)."""
    for flag, given in inputs.items():
        if given is not None and Path(given).exists() and path.exists() \
                and _same(path, Path(given)):
            return flag
    return None


def _check_writable_place(path: Path, flag: str) -> None:
    """A new `path` can be created: its nearest existing parent is a writable folder."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{flag} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {path}: cannot write in {parent} (read-only or immutable "
                         "folder): choose another " + flag)


def check_output_file(
    path: PathLike,
    *,
    flag: str,
    inputs: Inputs | None = None,
    accepts: Callable[[Path], bool] | None = None,
    kind: str = "a result file of this command",
) -> Path:
    """Check that the command may write (or append to) the file `path` given by `flag`.

    `inputs` are the command's input files by flag. An existing file must satisfy
    `accepts(path)` (this command's own result file, which it resumes or extends;
    described as `kind` in the message); with `accepts=None` an existing file is
    refused. Returns `path` as a `Path`; raises `InputError`.
    """
    path = Path(path)
    source = _input_at(path, inputs or {})
    if source is not None:
        raise InputError(f"{flag} {path} is the {source} input; it would be overwritten: "
                         f"choose another {flag}")
    if path.is_dir():
        raise InputError(f"{flag} {path} is a directory, expected a file")
    if path.exists():
        if not path.is_file():
            raise InputError(f"{flag} {path} is not a regular file")
        if accepts is None or not accepts(path):
            raise InputError(f"{flag} {path} exists and is not {kind}; it is never "
                             f"overwritten: choose another {flag}")
        if not os.access(path, os.W_OK):
            raise InputError(f"{flag} {path}: the file cannot be written (read-only or "
                             f"immutable): choose another {flag}")
        return path
    _check_writable_place(path, flag)
    return path


def check_output_dir(
    path: PathLike,
    *,
    flag: str,
    inputs: Inputs | None = None,
    writes: Iterable[str],
) -> Path:
    """Check that the command may write the files named `writes` into the folder `path`.

    The folder must be absent (it is created), empty, or hold only files named in
    `writes` (a previous run's results, replaced); none of them may be an input.
    Returns `path` as a `Path`; raises `InputError`.
    """
    path = Path(path)
    writes = tuple(writes)
    if path.exists() and not path.is_dir():
        raise InputError(f"{flag} {path} is a file, expected a directory")
    for name in writes:
        source = _input_at(path / name, inputs or {})
        if source is not None:
            raise InputError(f"{flag} {path}: {path / name} is the {source} input; it would "
                             f"be overwritten: choose another {flag}")
    if not path.exists():
        _check_writable_place(path, flag)
        return path
    foreign = sorted(entry.name for entry in path.iterdir()
                     if entry.name not in writes or not entry.is_file())
    if foreign:
        listed = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise InputError(f"{flag} {path} holds files this command did not write ({listed}); "
                         f"it writes only {', '.join(writes)}: choose an empty or new "
                         f"{flag}")
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {path}: cannot write in this folder (read-only or "
                         f"immutable): choose another {flag}")
    for name in writes:
        if (path / name).exists() and not os.access(path / name, os.W_OK):
            raise InputError(f"{flag} {path}: {path / name} cannot be replaced (read-only or "
                             f"immutable): choose another {flag}")
    return path


__all__ = ["check_output_dir", "check_output_file"]
