"""MagicBrush (`load_magicbrush`, `magicbrush_mask`).

The released dev/test layout::

    <split>/edit_sessions.json   {"<img_id>": [{"input": "<img_id>-input.png",
                                  "mask": "<img_id>-mask1.png", "output": "<img_id>-output1.png",
                                  "instruction": "..."}, ...], ...}   (one dict per turn)
    <split>/images/<img_id>/<file named in the session>

Turn t (1-based, list order) of session `img_id` is input `"<img_id>:t"`. The annotators'
target image is the editing model `"magicbrush_target"`; other editing models' outputs are
given as `outputs={"model": folder}` with the turn's edit at `folder/<img_id>/<output
file name>`. The released mask files are passed through as `mask_original`/`mask_edited`
unless `mask_dir` is given, then each is converted by `magicbrush_mask` (alpha channel:
transparent = edit region, as drawn for DALL-E 2 inpainting; no alpha: bright = region)
and written there as a 0/255 PNG.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path

import numpy as np

from bpm_edit.images import read_image_file
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

MAGICBRUSH_TARGET_MODEL = "magicbrush_target"

def magicbrush_mask(path: str | Path) -> np.ndarray:
    """A MagicBrush mask file as an `(H, W)` bool array, True = edit region.

    With an alpha channel that is not fully opaque, the transparent pixels (alpha < 128)
    are the region; otherwise pixels with luminance >= 128 are.
    """
    image = read_image_file(path, "MagicBrush mask")
    if "A" in image.getbands():
        alpha = np.asarray(image.getchannel("A"))
        if alpha.min() < 128:
            return alpha < 128
    return np.asarray(image.convert("L")) >= 128


def load_magicbrush(
    split_dir: str | Path,
    outputs: Mapping[str, str | Path] | None = None,
    include_target: bool = True,
    mask_dir: str | Path | None = None,
    check_files: bool = True,
) -> LoadResult:
    """Load a MagicBrush split folder (dev or test); see the module doc for the layout."""
    split_dir = Path(split_dir)
    sessions_path = split_dir / "edit_sessions.json"
    sessions = read_json(sessions_path)
    if not isinstance(sessions, dict):
        raise DatasetError(f"{sessions_path}: expected an object keyed by image id")
    models: list[tuple[str, Path | None]] = []
    if include_target:
        models.append((MAGICBRUSH_TARGET_MODEL, None))
    models.extend((name, Path(folder)) for name, folder in (outputs or {}).items())
    if not models:
        raise DatasetError("load_magicbrush: no editing model (include_target=False, no outputs)")
    result = LoadResult()
    for img_id, turns in sessions.items():
        if not isinstance(turns, list):
            result.errors.append(RowError(str(sessions_path), img_id, None,
                                          "expected a list of turns"))
            continue
        image_dir = split_dir / "images" / str(img_id)
        for turn_index, turn in enumerate(turns, start=1):
            input_id = f"{img_id}:{turn_index}"
            try:
                if not isinstance(turn, dict):
                    raise RowProblem(None, f"turn {turn_index} is not an object")
                instruction = row_text(turn, "instruction")
                original = row_path(image_dir, row_text(turn, "input"), "input", check_files)
                output_name = row_text(turn, "output")
                mask = None
                if turn.get("mask"):
                    mask = row_path(image_dir, row_text(turn, "mask"), "mask", check_files)
                    if mask_dir is not None:
                        mask = save_mask(magicbrush_mask(mask),
                                          Path(mask_dir) / f"{img_id}_{turn_index}.png")
            except RowProblem as problem:
                result.errors.append(RowError(str(sessions_path), input_id, problem.field_name,
                                              problem.message))
                continue
            edits = []
            for model, folder in models:
                base = image_dir if folder is None else folder / str(img_id)
                edits.append((model, partial(row_path, base, output_name, "output",
                                             check_files)))
            add_edits(result, str(sessions_path), edits, input_id=input_id,
                       original=original, instruction=instruction, mask=mask)
    return result
