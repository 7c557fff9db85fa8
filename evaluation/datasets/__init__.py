"""Loaders that turn evaluation data on disk into `EditItem`s.

Every loader returns a `LoadResult`: the items that loaded and one `RowError` per problem
(file, row, field, message). One malformed row never stops the others, and input files are
never written. Supported formats:

**BPM authors' metadata** (`load_bpm_metadata`): a JSON list (or an object keyed by id)
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

**MagicBrush** (`load_magicbrush`), the released dev/test layout::

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

**PIE-Bench** (`load_pie_bench`): `mapping_file.json` = `{"<id>": {"image_path":
"0_random_140/000000000000.jpg", "original_prompt", "editing_prompt",
"editing_instruction", "editing_type_id", "blended_word", "mask": [start, length, ...]}}`
with images under `annotation_images/`. Editing models' outputs are `outputs={"model":
folder}` with each edit at `folder/<image_path>` (a `.png` of the same stem is accepted).
The mask is the run-length encoding decoded by `decode_pie_mask`; with `mask_dir` it is
written there as a PNG and used as both masks.

**Plain JSONL / CSV** (`load_plain`), one row per edited image, paths relative to the file:

    original, edited, instruction      required
    model                              editing model name (default "model")
    input_id                           groups one input's edits (default: original + instruction)
    item_id                            default "<input_id>:<model>"
    human_overall, human_preservation, human_modification, human_size, human_position
                                       optional numbers (empty = absent)
    mask_original, mask_edited         optional paths
    role                               optional GT-test role
    spec                               optional EditSpec dict (JSON text in CSV)

`load_dataset(path)` picks the loader from the file name. One module per format:
`bpm`, `magicbrush`, `piebench`, `table` (plain JSONL / CSV); `common` holds `LoadResult`,
`RowError`, `DatasetError` and the row helpers; this package dispatches and re-exports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluation.datasets.bpm import load_bpm_metadata
from evaluation.datasets.common import DatasetError, LoadResult, RowError
from evaluation.datasets.magicbrush import MAGICBRUSH_TARGET_MODEL, load_magicbrush, magicbrush_mask
from evaluation.datasets.piebench import PIE_MASK_SHAPE, decode_pie_mask, load_pie_bench
from evaluation.datasets.table import PLAIN_COLUMNS, load_plain, write_plain

#: The names other modules import from the package (defined in its modules).
__all__ = [
    "DATASET_FORMATS", "MAGICBRUSH_TARGET_MODEL", "PIE_MASK_SHAPE", "PLAIN_COLUMNS",
    "DatasetError", "LoadResult", "RowError", "dataset_format", "decode_pie_mask",
    "load_bpm_metadata", "load_dataset", "load_magicbrush", "load_pie_bench", "load_plain",
    "magicbrush_mask", "write_plain",
]  # fmt: skip


#: The loaders by name ("jsonl" and "csv" are both the plain format).
DATASET_FORMATS = ("bpm", "magicbrush", "piebench", "jsonl", "csv")


def dataset_format(path: str | Path) -> str:
    """The format a path's name implies: a folder or `edit_sessions.json` -> "magicbrush"
    (a folder with `mapping_file.json` -> "piebench"), `*.jsonl`/`*.csv` -> plain, other
    `*.json` -> "bpm" (the authors' metadata)."""
    path = Path(path)
    if path.is_dir():
        if (path / "mapping_file.json").is_file():
            return "piebench"
        if (path / "edit_sessions.json").is_file():
            return "magicbrush"
        raise DatasetError(f"{path}: a folder needs edit_sessions.json (MagicBrush) or "
                           "mapping_file.json (PIE-Bench)")
    if path.name == "edit_sessions.json":
        return "magicbrush"
    if path.name == "mapping_file.json":
        return "piebench"
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".csv"):
        return suffix[1:]
    if suffix == ".json":
        return "bpm"
    raise DatasetError(f"{path}: unknown dataset format (expected a folder, .json, .jsonl "
                       "or .csv)")


def load_dataset(path: str | Path, kind: str = "auto", **options: Any) -> LoadResult:
    """Load `path` with the loader of `kind` (one of `DATASET_FORMATS`; "auto": the one
    `dataset_format` picks from the name). `options` go to that loader; MagicBrush and
    PIE-Bench are loaded from the folder of a file given inside it."""
    path = Path(path)
    kind = dataset_format(path) if kind == "auto" else kind
    if kind in ("magicbrush", "piebench"):
        folder = path.parent if path.is_file() else path
        load = load_magicbrush if kind == "magicbrush" else load_pie_bench
        return load(folder, **options)
    if kind in ("jsonl", "csv"):
        return load_plain(path, **options)
    if kind == "bpm":
        return load_bpm_metadata(path, **options)
    raise DatasetError(f"unknown dataset format {kind!r}; choose from {DATASET_FORMATS}")
