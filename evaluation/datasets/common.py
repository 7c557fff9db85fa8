"""What every dataset loader shares: `LoadResult` (items and per-row `RowError`s),
`DatasetError` (a file that cannot be read at all), and the row helpers that turn one bad
row or field into a `RowError` without stopping the others (`RowProblem`, `row_text`,
`row_number`, `row_path`, `add_edits`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import bpm_edit.errors
from evaluation.items import EditItem


@dataclass(frozen=True)
class RowError:
    """One problem in one row of an input file; the row (or field) was skipped."""

    file: str
    row: str | int | None
    field: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        where = f"{self.file}, row {self.row}" + (f", field {self.field!r}" if self.field else "")
        return f"{where}: {self.message}"


@dataclass
class LoadResult:
    """Items that loaded and the per-row errors of the rest."""

    items: list[EditItem] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def extend(self, other: LoadResult) -> None:
        self.items.extend(other.items)
        self.errors.extend(other.errors)


class DatasetError(bpm_edit.errors.DatasetError):
    """A dataset file cannot be read at all (missing, not JSON, wrong top-level shape)."""


class RowProblem(bpm_edit.errors.DatasetError):
    """A problem with one row (or one field of it): loaders turn it into a `RowError`."""

    def __init__(self, field_name: str | None, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.message = message


def read_json(path: Path) -> Any:
    """The JSON of a dataset file; a missing or invalid file is a `DatasetError`."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path}: not valid JSON ({err})") from err
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: cannot read ({err})") from err


def row_number(value: Any, field_name: str) -> float | None:
    """A human score: number or numeric string; None/"" = absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise RowProblem(field_name, f"expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RowProblem(field_name, f"expected a number, got {value!r}") from None
    if number != number:
        return None
    return number


def row_text(row: Mapping[str, Any], key: str) -> str:
    """`row[key]` as a non-empty string."""
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RowProblem(key, f"expected a non-empty string, got {value!r}")
    return value


def row_path(root: Path, relative: str, field_name: str, check_files: bool) -> str:
    """`relative` under `root` (an absolute path as is), checked to be a file if asked."""
    path = Path(relative)
    path = path if path.is_absolute() else root / path
    if check_files and not path.is_file():
        raise RowProblem(field_name, f"file not found: {path}")
    return str(path)


def save_mask(mask: np.ndarray, path: Path) -> str:
    """Write a bool mask as a 0/255 PNG (folders made as needed); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask.astype(np.uint8) * 255).save(path)
    return str(path)


def add_edits(result: LoadResult, file: str, edits: list[tuple[str, Callable[[], str]]],
               input_id: str, original: str, instruction: str, mask: str | None) -> None:
    """One item per (model, find its edited image) of one input; a model whose image is
    missing is a row error, and the other models' items still load."""
    for model, find_edited in edits:
        item_id = f"{input_id}:{model}"
        try:
            edited = find_edited()
        except RowProblem as problem:
            result.errors.append(RowError(file, item_id, problem.field_name, problem.message))
            continue
        result.items.append(EditItem(
            item_id=item_id, input_id=input_id, original=original, edited=edited,
            instruction=instruction, model=model, mask_original=mask, mask_edited=mask))
