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
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from bpm_edit.errors import InputError

PathLike = str | os.PathLike[str]
#: Input paths by the flag that gave them (None: not given), e.g. {"--file": "in.txt"},
#: or just the paths (a dataset's images, which no single flag names).
Inputs = Mapping[str, PathLike | None] | Iterable[PathLike]


def same_file(a: Path, b: Path) -> bool:
    """`a` and `b` name one file (however spelled, also before it exists)."""
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_not_input(
    path: PathLike, inputs: Inputs | None, flag: str, folder: Path | None = None
) -> None:
    """An `InputError` when the output `path` (a file the command writes into `folder`,
    if given) is one of the command's `inputs`."""
    path = Path(path)
    where = f"{flag} {folder}: " if folder is not None else f"{flag} "
    labelled = inputs.items() if isinstance(inputs, Mapping) else \
        ((None, given) for given in inputs or ())
    for label, given in labelled:
        if given is not None and same_file(path, Path(given)):
            spelled = "" if Path(given) == path else f" ({given})"
            what = f"the {label} input" if label else f"an input{spelled}"
            raise InputError(f"{where}{path} is {what}; it would be overwritten: "
                             f"choose another {flag}")


def check_writable_place(path: PathLike, flag: str) -> None:
    """A new `path` can be created: its nearest existing parent is a folder in which a
    file can really be made (a probe file is created and removed: permission bits alone
    do not stop root, an immutable or read-only-mounted folder does)."""
    path = Path(path)
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{flag} {path}: {parent} is a file, not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".bpm-edit-probe-"):
            pass
    except OSError as err:
        raise InputError(f"{flag} {path}: cannot write in {parent} (read-only or immutable "
                         f"folder: {err.strerror or err}): choose another {flag}") from None


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
    check_not_input(path, inputs, flag)
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
    check_writable_place(path, flag)
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
        check_not_input(path / name, inputs, flag, folder=path)
    if not path.exists():
        check_writable_place(path, flag)
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


__all__ = [
    "check_not_input", "check_output_dir", "check_output_file", "check_writable_place",
    "same_file",
]
