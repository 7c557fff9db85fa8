"""The plain table format, JSONL or CSV (`load_plain`, `write_plain`).

One row per edited image, paths relative to the file:

    original, edited, instruction      required
    model                              editing model name (default "model")
    input_id                           groups one input's edits (default: original + instruction)
    item_id                            default "<input_id>:<model>"
    human_overall, human_preservation, human_modification, human_size, human_position
                                       optional numbers (empty = absent)
    mask_original, mask_edited         optional paths
    role                               optional GT-test role
    spec                               optional EditSpec dict (JSON text in CSV)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evaluation.datasets.common import (
    DatasetError,
    LoadResult,
    RowError,
    RowProblem,
    row_number,
    row_path,
    row_text,
)
from evaluation.items import HUMAN_ASPECTS, EditItem, ItemError

PLAIN_COLUMNS = (
    "item_id", "input_id", "original", "edited", "instruction", "model",
    *(f"human_{aspect}" for aspect in HUMAN_ASPECTS),
    "mask_original", "mask_edited", "role", "spec",
)


def _plain_rows(path: Path) -> list[tuple[int, Any]]:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: cannot read ({err})") from err
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        return [(number, row) for number, row in enumerate(reader, start=2)]
    rows: list[tuple[int, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as err:
            rows.append((number, RowProblem(None, f"not valid JSON ({err.msg})")))
    return rows


def _plain_item(row: Any, root: Path, check_files: bool) -> EditItem:
    if isinstance(row, RowProblem):
        raise row
    if not isinstance(row, dict):
        raise RowProblem(None, f"expected an object, got {type(row).__name__}")
    unknown = sorted(k for k in row if k is not None and k not in PLAIN_COLUMNS)
    if unknown:
        raise RowProblem(unknown[0], f"unknown column(s) {unknown}; known: {PLAIN_COLUMNS}")
    original = row_path(root, row_text(row, "original"), "original", check_files)
    edited = row_path(root, row_text(row, "edited"), "edited", check_files)
    instruction = row.get("instruction")
    if not isinstance(instruction, str):
        raise RowProblem("instruction", f"expected a string, got {instruction!r}")
    model = row.get("model") or "model"
    input_id = row.get("input_id") or f"{row['original']}|{instruction}"
    human = {}
    for aspect in HUMAN_ASPECTS:
        number = row_number(row.get(f"human_{aspect}"), f"human_{aspect}")
        if number is not None:
            human[aspect] = number
    masks = {}
    for name in ("mask_original", "mask_edited"):
        value = row.get(name)
        masks[name] = row_path(root, value, name, check_files) if value else None
    spec = row.get("spec") or None
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as err:
            raise RowProblem("spec", f"not valid JSON ({err.msg})") from None
    role = row.get("role") or None
    try:
        return EditItem(item_id=str(row.get("item_id") or f"{input_id}:{model}"),
                        input_id=str(input_id), original=original, edited=edited,
                        instruction=instruction, model=str(model), human=human, spec=spec,
                        role=role, **masks)
    except ItemError as err:
        raise RowProblem(None, str(err)) from None


def load_plain(path: str | Path, check_files: bool = True) -> LoadResult:
    """Load the plain JSONL (one object per line) or CSV format; see the module doc."""
    path = Path(path)
    result = LoadResult()
    seen: set[str] = set()
    for number, row in _plain_rows(path):
        try:
            item = _plain_item(row, path.parent, check_files)
            if item.item_id in seen:
                raise RowProblem("item_id", f"duplicate item_id {item.item_id!r}")
            seen.add(item.item_id)
            result.items.append(item)
        except RowProblem as problem:
            result.errors.append(RowError(str(path), number, problem.field_name, problem.message))
    return result


def write_plain(items: Sequence[EditItem], path: str | Path) -> Path:
    """Write items in the plain JSONL format, paths made relative to the file's folder
    where they lie under it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.parent.resolve()

    def rel(value: str | None) -> str | None:
        if value is None:
            return None
        resolved = Path(value).resolve()
        return str(resolved.relative_to(base)) if resolved.is_relative_to(base) else value

    with path.open("w", encoding="utf-8") as handle:
        for item in items:
            row: dict[str, Any] = {
                "item_id": item.item_id, "input_id": item.input_id,
                "original": rel(item.original), "edited": rel(item.edited),
                "instruction": item.instruction, "model": item.model,
            }
            row.update({f"human_{aspect}": score for aspect, score in item.human.items()})
            for name in ("mask_original", "mask_edited"):
                if getattr(item, name):
                    row[name] = rel(getattr(item, name))
            if item.role:
                row["role"] = item.role
            if item.spec:
                row["spec"] = item.spec
            handle.write(json.dumps(row) + "\n")
    return path
