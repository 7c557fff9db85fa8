"""PIE-Bench (`load_pie_bench`, `decode_pie_mask`).

`mapping_file.json` = `{"<id>": {"image_path":
"0_random_140/000000000000.jpg", "original_prompt", "editing_prompt",
"editing_instruction", "editing_type_id", "blended_word", "mask": [start, length, ...]}}`
with images under `annotation_images/`. Editing models' outputs are `outputs={"model":
folder}` with each edit at `folder/<image_path>` (a `.png` of the same stem is accepted).
The mask is the run-length encoding decoded by `decode_pie_mask`; with `mask_dir` it is
written there as a PNG and used as both masks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from bpm_edit.errors import InputError
from evaluation.datasets.common import (
    DatasetError,
    LoadResult,
    RowError,
    RowProblem,
    add_edits,
    read_json,
    row_path,
    row_text,
    save_mask,
)

PIE_MASK_SHAPE = (512, 512)

def decode_pie_mask(encoded: Sequence[int], shape: tuple[int, int] = PIE_MASK_SHAPE) -> np.ndarray:
    """Decode a PIE-Bench mask: pairs (start, length) over the row-major flattened mask.

    Runs past the end are clipped. Unlike the benchmark's own helper, the border rows and
    columns are NOT forced to True: the mask is returned exactly as encoded.
    """
    values = list(encoded)
    if len(values) % 2:
        raise InputError(f"PIE-Bench mask has an odd number of values ({len(values)})")
    size = shape[0] * shape[1]
    flat = np.zeros(size, dtype=bool)
    for start, length in zip(values[0::2], values[1::2], strict=True):
        if isinstance(start, bool) or isinstance(length, bool):
            raise InputError("PIE-Bench mask values must be integers")
        start, length = int(start), int(length)
        if start < 0 or length < 0:
            raise InputError(f"PIE-Bench mask run ({start}, {length}) is negative")
        flat[start:min(start + length, size)] = True
    return flat.reshape(shape)


def _pie_edited(folder: Path, image_path: str, check_files: bool) -> str:
    candidate = folder / image_path
    if not check_files or candidate.is_file():
        return str(candidate)
    png = candidate.with_suffix(".png")
    if png.is_file():
        return str(png)
    raise RowProblem("image_path", f"edited image not found: {candidate} (or {png.name})")


def load_pie_bench(
    root: str | Path,
    outputs: Mapping[str, str | Path],
    mask_dir: str | Path | None = None,
    instruction_key: str = "editing_instruction",
    check_files: bool = True,
) -> LoadResult:
    """Load PIE-Bench (`root/mapping_file.json`, `root/annotation_images/`) with the
    editing models' outputs `outputs={"model": folder}`; see the module doc."""
    root = Path(root)
    mapping_path = root / "mapping_file.json"
    mapping = read_json(mapping_path)
    if not isinstance(mapping, dict):
        raise DatasetError(f"{mapping_path}: expected an object keyed by image id")
    if not outputs:
        raise DatasetError("load_pie_bench: give the editing models' outputs, {model: folder}")
    result = LoadResult()
    for entry_id, entry in mapping.items():
        input_id = str(entry_id)
        try:
            if not isinstance(entry, dict):
                raise RowProblem(None, "expected an object")
            image_path = row_text(entry, "image_path")
            original = row_path(root / "annotation_images", image_path, "image_path",
                                 check_files)
            instruction = row_text(entry, instruction_key)
            mask = None
            if entry.get("mask") is not None:
                try:
                    decoded = decode_pie_mask(entry["mask"])
                except (TypeError, ValueError) as err:
                    raise RowProblem("mask", str(err)) from None
                if mask_dir is not None:
                    mask = save_mask(decoded, Path(mask_dir) / f"{input_id}.png")
        except RowProblem as problem:
            result.errors.append(RowError(str(mapping_path), input_id, problem.field_name,
                                          problem.message))
            continue
        edits = [(model, partial(_pie_edited, Path(folder), image_path, check_files))
                 for model, folder in outputs.items()]
        add_edits(result, str(mapping_path), edits, input_id=input_id, original=original,
                   instruction=instruction, mask=mask)
    return result
