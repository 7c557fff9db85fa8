"""bpm-edit: the BPM metric for instruction-based image editing.

`BPM` and `parse_instruction` are imported lazily, so `import bpm_edit` and the rule
parser stay fast (no torch import until a model is needed).
"""

from __future__ import annotations

from typing import Any

from bpm_edit.spec import EditSpec, SpecError
from bpm_edit.version import __version__

__all__ = ["BPM", "EditSpec", "SpecError", "__version__", "parse_instruction"]


def __getattr__(name: str) -> Any:
    if name == "parse_instruction":
        from bpm_edit.parsing import parse_instruction

        return parse_instruction
    if name == "BPM":
        from bpm_edit.metric import BPM

        return BPM
    raise AttributeError(f"module 'bpm_edit' has no attribute {name!r}")
