"""bpm-edit: the BPM metric for instruction-based image editing.

Heavy pieces (torch models) are imported lazily, so `import bpm_edit` and the rule
parser stay fast.
"""

from __future__ import annotations

from bpm_edit.spec import EditSpec, SpecError

__all__ = ["EditSpec", "SpecError", "parse_instruction"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "parse_instruction":
        from bpm_edit.parsing import parse_instruction

        return parse_instruction
    raise AttributeError(f"module 'bpm_edit' has no attribute {name!r}")
