"""One error family for everything a user can fix.

Every error that means "your input, settings, weights, data or endpoint are wrong" is a
`BPMEditError`. The command lines catch exactly this family and print one line,
``PROG: error: MESSAGE``, with exit status 2 (`run_command`); anything else (out of
memory, a bug) keeps its traceback and exits 1, so it is never mistaken for bad input.

The subclasses also derive from the matching built-in (`ValueError`, `FileNotFoundError`,
`RuntimeError`), so code that caught those before keeps working.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class BPMEditError(Exception):
    """Base of every error a user can fix; its message says what and where."""


class InputError(BPMEditError, ValueError):
    """An input (image, mask, instruction, spec, file, argument value) is not usable."""


class ConfigError(BPMEditError, ValueError):
    """A setting, or a combination of settings, is not valid."""


class DatasetError(InputError):
    """A dataset or results file is malformed (the message names file and line or row)."""


class WeightsError(BPMEditError, RuntimeError):
    """Model weights cannot be used: unreadable, or made for another architecture."""


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """Model weights are not available locally and cannot be downloaded."""


class EndpointError(BPMEditError, RuntimeError):
    """A remote model endpoint (chat API, VLM judge) failed or answered unusably."""


def run_command(prog: str, run: Callable[[], int | None]) -> int:
    """Run a command's body: a `BPMEditError` becomes one ``error:`` line and status 2.

    A closed pipe (``bpm-edit ... | head``) ends quietly with status 0, as Unix tools do.
    Every other exception propagates with its traceback.
    """
    try:
        return int(run() or 0)
    except BPMEditError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        sys.stderr.close()
        return 0


__all__ = [
    "BPMEditError",
    "ConfigError",
    "DatasetError",
    "EndpointError",
    "InputError",
    "WeightsError",
    "WeightsNotFoundError",
    "run_command",
]
