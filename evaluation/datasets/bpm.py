"""The BPM authors' metadata format (`load_bpm_metadata`).

A JSON list (or an object keyed by id)
of entries `{"index", "instruction", "source_image_path", "edited_image1": {"image_path",
"user_overall_quality", ...}, "edited_image2": ..., ...}` as in `local_metadata.json`,
`global_metadata.json` and `gt_test_metadata.json`. Paths are relative to `data_root`
(default: the metadata file's folder). Slot N is editing model `model_names[N-1]` (a
list) or `model_names[N]` (a mapping; slots it lacks keep "modelN"), default "modelN".
Human score keys `user_*` map to aspects by the word they contain:
"overall" -> overall, "preserv" -> preservation, "modif" -> modification, "size" -> size,
"position"/"location" -> position; another `user_*` key is reported as a RowError and
ignored. For the ground-truth file pass `roles={1: "ground_truth", ...}` (slot -> role);
an `edited_imageN` may instead carry its own `"role"`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.datasets.common import (
    DatasetError,
    LoadResult,
    RowError,
    RowProblem,
    read_json,
    row_number,
    row_path,
    row_text,
)
from evaluation.items import GT_ROLES, EditItem

_USER_ASPECTS = (
    ("overall", "overall"),
    ("preserv", "preservation"),
    ("modif", "modification"),
    ("size", "size"),
    ("position", "position"),
    ("location", "position"),
)
_SLOT = re.compile(r"^edited_image(\d+)$")


def _user_aspect(key: str) -> str | None:
    lowered = key.lower()
    for word, aspect in _USER_ASPECTS:
        if word in lowered:
            return aspect
    return None


def load_bpm_metadata(
    path: str | Path,
    data_root: str | Path | None = None,
    model_names: Sequence[str] | Mapping[int, str] | None = None,
    roles: Mapping[int, str] | None = None,
    check_files: bool = True,
) -> LoadResult:
    """Load a BPM authors' metadata JSON (local, global or gt-test); see the module doc."""
    path = Path(path)
    root = Path(data_root) if data_root is not None else path.parent
    data = read_json(path)
    if isinstance(data, dict):
        entries = list(data.values())
    elif isinstance(data, list):
        entries = data
    else:
        raise DatasetError(f"{path}: expected a JSON list of entries, got {type(data).__name__}")
    for slot, role in (roles or {}).items():
        if role not in GT_ROLES:
            raise DatasetError(f"roles[{slot}] = {role!r}; expected one of {GT_ROLES}")
    result = LoadResult()
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        row_name: str | int = position
        try:
            if not isinstance(entry, dict):
                raise RowProblem(None, f"expected a JSON object, got {type(entry).__name__}")
            if entry.get("index") is None:
                raise RowProblem("index", "missing")
            input_id = str(entry["index"])
            row_name = input_id
            if input_id in seen:
                raise RowProblem("index", f"duplicate index {input_id!r}")
            seen.add(input_id)
            instruction = row_text(entry, "instruction")
            original = row_path(root, row_text(entry, "source_image_path"), "source_image_path",
                                 check_files)
            slots = sorted((int(m.group(1)), key) for key in entry if (m := _SLOT.match(key)))
            if not slots:
                raise RowProblem("edited_image1", "no edited_imageN entries")
        except RowProblem as problem:
            result.errors.append(RowError(str(path), row_name, problem.field_name,
                                          problem.message))
            continue
        for slot, key in slots:
            try:
                result.items.append(_bpm_slot_item(
                    entry[key], key, slot, input_id, instruction, original, root, model_names,
                    roles, check_files, result.errors, str(path)))
            except RowProblem as problem:
                result.errors.append(RowError(
                    str(path), row_name, f"{key}.{problem.field_name}" if problem.field_name
                    else key, problem.message))
    return result


def _bpm_slot_item(
    slot_data: Any,
    key: str,
    slot: int,
    input_id: str,
    instruction: str,
    original: str,
    root: Path,
    model_names: Sequence[str] | Mapping[int, str] | None,
    roles: Mapping[int, str] | None,
    check_files: bool,
    errors: list[RowError],
    file: str,
) -> EditItem:
    if not isinstance(slot_data, dict):
        raise RowProblem(None, f"expected an object with image_path, got {slot_data!r}")
    if isinstance(model_names, Mapping):
        model = model_names.get(slot) or model_names.get(str(slot)) or f"model{slot}"
    elif model_names is not None:
        if slot > len(model_names):
            raise RowProblem(None, f"slot {slot} has no model name ({len(model_names)} given)")
        model = model_names[slot - 1]
    else:
        model = f"model{slot}"
    edited = row_path(root, row_text(slot_data, "image_path"), "image_path", check_files)
    human: dict[str, float] = {}
    for score_key, value in slot_data.items():
        if not score_key.startswith("user_"):
            continue
        aspect = _user_aspect(score_key)
        if aspect is None:
            errors.append(RowError(file, input_id, f"{key}.{score_key}",
                                   "unknown human score key (ignored)"))
            continue
        number = row_number(value, score_key)
        if number is not None:
            human[aspect] = number
    role = slot_data.get("role") or (roles or {}).get(slot)
    if role is not None and role not in GT_ROLES:
        raise RowProblem("role", f"expected one of {GT_ROLES}, got {role!r}")
    return EditItem(item_id=f"{input_id}:{model}", input_id=input_id, original=original,
                    edited=edited, instruction=instruction, model=model, human=human, role=role)
