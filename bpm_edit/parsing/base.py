"""The parser interface: one instruction in, one validated `EditSpec` out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bpm_edit.errors import InputError
from bpm_edit.spec import EditSpec


@runtime_checkable
class InstructionParser(Protocol):
    """Anything that turns an editing instruction into an `EditSpec`.

    `parser_id` identifies the parser and its settings (model, prompt version); it keys
    the on-disk parse cache, so two parsers that can answer differently must differ in it.
    """

    parser_id: str

    def parse(self, instruction: str) -> EditSpec: ...


def check_instruction(instruction: object) -> str:
    """Return the instruction stripped; raise `ValueError` for empty or non-string input."""
    if not isinstance(instruction, str):
        raise InputError(f"instruction must be a string, got {type(instruction).__name__}")
    text = instruction.strip()
    if not text:
        raise InputError("instruction is empty (or only whitespace): nothing to parse")
    return text
