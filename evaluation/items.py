"""The evaluation item: one edited image of one input, with what a metric and a protocol need.

Every dataset loader (`evaluation.datasets`) returns `EditItem`s, the batch runner scores
them and the protocols (`evaluation.alignment`, `evaluation.ground_truth`) group them: by
`input_id` (the editing models' outputs for one original and instruction) and by `model`
(the editing model that produced `edited`). Items round-trip through JSON so a dataset can
be cached or written in the plain JSONL format.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from bpm_edit.errors import InputError

#: Human score aspects the protocols read. A dataset may carry any subset.
HUMAN_ASPECTS = ("overall", "preservation", "modification", "size", "position")

#: Roles of a candidate in the ground-truth test (paper Sec. 4.2, Table 4).
GT_ROLES = ("ground_truth", "excessively_modified", "excessively_preserved")


class ItemError(InputError):
    """An `EditItem` field is missing or has a value outside its documented domain."""


@dataclass(frozen=True)
class EditItem:
    """One (original, instruction, edited image) triple from one editing model.

    `item_id` is unique per (input, editing model); `input_id` is shared by all editing
    models' outputs of one input. `human` maps an aspect of `HUMAN_ASPECTS` to a score
    (higher is better, any scale as long as it is the same within a dataset). Paths are
    absolute or relative to the working directory as the loader resolved them.
    """

    item_id: str
    input_id: str
    original: str
    edited: str
    instruction: str
    model: str
    human: dict[str, float] = field(default_factory=dict)
    mask_original: str | None = None
    mask_edited: str | None = None
    spec: dict[str, Any] | None = None
    role: str | None = None

    def __post_init__(self) -> None:
        for name in ("item_id", "input_id", "original", "edited", "model"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ItemError(f"EditItem.{name} must be a non-empty string, got {value!r}")
        if not isinstance(self.instruction, str):
            raise ItemError(
                f"EditItem.instruction must be a string, got {type(self.instruction).__name__}"
            )
        if not isinstance(self.human, dict):
            raise ItemError(f"EditItem.human must be a dict, got {type(self.human).__name__}")
        human: dict[str, float] = {}
        for aspect, score in self.human.items():
            if aspect not in HUMAN_ASPECTS:
                raise ItemError(
                    f"EditItem.human has unknown aspect {aspect!r}; known: {HUMAN_ASPECTS}"
                )
            if isinstance(score, bool) or not isinstance(score, (int, float)):
                raise ItemError(f"EditItem.human[{aspect!r}] must be a number, got {score!r}")
            if score != score:  # NaN: an absent score is left out, never stored as NaN
                raise ItemError(f"EditItem.human[{aspect!r}] is NaN; leave the aspect out")
            human[aspect] = float(score)
        object.__setattr__(self, "human", human)
        for name in ("mask_original", "mask_edited"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ItemError(f"EditItem.{name} must be a non-empty path or None, got {value!r}")
        if self.spec is not None and not isinstance(self.spec, dict):
            raise ItemError(
                f"EditItem.spec must be a dict (EditSpec.to_dict()) or None, got "
                f"{type(self.spec).__name__}"
            )
        if self.role is not None and self.role not in GT_ROLES:
            raise ItemError(f"EditItem.role must be one of {GT_ROLES} or None, got {self.role!r}")

    def __hash__(self) -> int:  # `human`/`spec` are dicts; equal items share the item_id
        return hash(self.item_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict; `from_dict(to_dict())` gives an equal item."""
        return {
            "item_id": self.item_id,
            "input_id": self.input_id,
            "original": self.original,
            "edited": self.edited,
            "instruction": self.instruction,
            "model": self.model,
            "human": dict(self.human),
            "mask_original": self.mask_original,
            "mask_edited": self.mask_edited,
            "spec": None if self.spec is None else dict(self.spec),
            "role": self.role,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EditItem:
        """Build an item from a dict such as `to_dict()`; unknown keys are an error."""
        if not isinstance(data, dict):
            raise ItemError(f"EditItem.from_dict expects a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ItemError(f"EditItem has no field(s) {unknown}; fields are {sorted(known)}")
        missing = [name for name in ("item_id", "input_id", "original", "edited", "instruction",
                                     "model") if name not in data]
        if missing:
            raise ItemError(f"EditItem needs field(s) {missing}")
        values = dict(data)
        values["human"] = dict(values.get("human") or {})
        return cls(**values)
