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

`load_dataset(path)` picks the loader from the file name.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from evaluation.items import GT_ROLES, HUMAN_ASPECTS, EditItem, ItemError

PIE_MASK_SHAPE = (512, 512)
MAGICBRUSH_TARGET_MODEL = "magicbrush_target"


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


class DatasetError(ValueError):
    """A dataset file cannot be read at all (missing, not JSON, wrong top-level shape)."""


class _RowProblem(Exception):
    def __init__(self, field_name: str | None, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.message = message


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path}: not valid JSON ({err})") from err


def _number(value: Any, field_name: str) -> float | None:
    """A human score: number or numeric string; None/"" = absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise _RowProblem(field_name, f"expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _RowProblem(field_name, f"expected a number, got {value!r}") from None
    if number != number:
        return None
    return number


def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _RowProblem(key, f"expected a non-empty string, got {value!r}")
    return value


def _existing(root: Path, relative: str, field_name: str, check_files: bool) -> str:
    path = Path(relative)
    path = path if path.is_absolute() else root / path
    if check_files and not path.is_file():
        raise _RowProblem(field_name, f"file not found: {path}")
    return str(path)


# --------------------------------------------------------------------------- BPM metadata

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
    data = _read_json(path)
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
                raise _RowProblem(None, f"expected a JSON object, got {type(entry).__name__}")
            if entry.get("index") is None:
                raise _RowProblem("index", "missing")
            input_id = str(entry["index"])
            row_name = input_id
            if input_id in seen:
                raise _RowProblem("index", f"duplicate index {input_id!r}")
            seen.add(input_id)
            instruction = _text(entry, "instruction")
            original = _existing(root, _text(entry, "source_image_path"), "source_image_path",
                                 check_files)
            slots = sorted((int(m.group(1)), key) for key in entry if (m := _SLOT.match(key)))
            if not slots:
                raise _RowProblem("edited_image1", "no edited_imageN entries")
        except _RowProblem as problem:
            result.errors.append(RowError(str(path), row_name, problem.field_name,
                                          problem.message))
            continue
        for slot, key in slots:
            try:
                result.items.append(_bpm_slot_item(
                    entry[key], key, slot, input_id, instruction, original, root, model_names,
                    roles, check_files, result.errors, str(path)))
            except _RowProblem as problem:
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
        raise _RowProblem(None, f"expected an object with image_path, got {slot_data!r}")
    if isinstance(model_names, Mapping):
        model = model_names.get(slot) or model_names.get(str(slot)) or f"model{slot}"
    elif model_names is not None:
        if slot > len(model_names):
            raise _RowProblem(None, f"slot {slot} has no model name ({len(model_names)} given)")
        model = model_names[slot - 1]
    else:
        model = f"model{slot}"
    edited = _existing(root, _text(slot_data, "image_path"), "image_path", check_files)
    human: dict[str, float] = {}
    for score_key, value in slot_data.items():
        if not score_key.startswith("user_"):
            continue
        aspect = _user_aspect(score_key)
        if aspect is None:
            errors.append(RowError(file, input_id, f"{key}.{score_key}",
                                   "unknown human score key (ignored)"))
            continue
        number = _number(value, score_key)
        if number is not None:
            human[aspect] = number
    role = slot_data.get("role") or (roles or {}).get(slot)
    if role is not None and role not in GT_ROLES:
        raise _RowProblem("role", f"expected one of {GT_ROLES}, got {role!r}")
    return EditItem(item_id=f"{input_id}:{model}", input_id=input_id, original=original,
                    edited=edited, instruction=instruction, model=model, human=human, role=role)


# --------------------------------------------------------------------------- MagicBrush


def magicbrush_mask(path: str | Path) -> np.ndarray:
    """A MagicBrush mask file as an `(H, W)` bool array, True = edit region.

    With an alpha channel that is not fully opaque, the transparent pixels (alpha < 128)
    are the region; otherwise pixels with luminance >= 128 are.
    """
    with Image.open(path) as image:
        if "A" in image.getbands():
            alpha = np.asarray(image.getchannel("A"))
            if alpha.min() < 128:
                return alpha < 128
        return np.asarray(image.convert("L")) >= 128


def _save_mask(mask: np.ndarray, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask.astype(np.uint8) * 255).save(path)
    return str(path)


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
    sessions = _read_json(sessions_path)
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
                    raise _RowProblem(None, f"turn {turn_index} is not an object")
                instruction = _text(turn, "instruction")
                original = _existing(image_dir, _text(turn, "input"), "input", check_files)
                output_name = _text(turn, "output")
                mask = None
                if turn.get("mask"):
                    mask = _existing(image_dir, _text(turn, "mask"), "mask", check_files)
                    if mask_dir is not None:
                        mask = _save_mask(magicbrush_mask(mask),
                                          Path(mask_dir) / f"{img_id}_{turn_index}.png")
            except _RowProblem as problem:
                result.errors.append(RowError(str(sessions_path), input_id, problem.field_name,
                                              problem.message))
                continue
            edits = []
            for model, folder in models:
                base = image_dir if folder is None else folder / str(img_id)
                edits.append((model, partial(_existing, base, output_name, "output",
                                             check_files)))
            _add_edits(result, str(sessions_path), edits, input_id=input_id,
                       original=original, instruction=instruction, mask=mask)
    return result


def _add_edits(result: LoadResult, file: str, edits: list[tuple[str, Callable[[], str]]],
               input_id: str, original: str, instruction: str, mask: str | None) -> None:
    """One item per (model, find its edited image) of one input; a model whose image is
    missing is a row error, and the other models' items still load."""
    for model, find_edited in edits:
        item_id = f"{input_id}:{model}"
        try:
            edited = find_edited()
        except _RowProblem as problem:
            result.errors.append(RowError(file, item_id, problem.field_name, problem.message))
            continue
        result.items.append(EditItem(
            item_id=item_id, input_id=input_id, original=original, edited=edited,
            instruction=instruction, model=model, mask_original=mask, mask_edited=mask))


# --------------------------------------------------------------------------- PIE-Bench


def decode_pie_mask(encoded: Sequence[int], shape: tuple[int, int] = PIE_MASK_SHAPE) -> np.ndarray:
    """Decode a PIE-Bench mask: pairs (start, length) over the row-major flattened mask.

    Runs past the end are clipped. Unlike the benchmark's own helper, the border rows and
    columns are NOT forced to True: the mask is returned exactly as encoded.
    """
    values = list(encoded)
    if len(values) % 2:
        raise ValueError(f"PIE-Bench mask has an odd number of values ({len(values)})")
    size = shape[0] * shape[1]
    flat = np.zeros(size, dtype=bool)
    for start, length in zip(values[0::2], values[1::2], strict=True):
        if isinstance(start, bool) or isinstance(length, bool):
            raise ValueError("PIE-Bench mask values must be integers")
        start, length = int(start), int(length)
        if start < 0 or length < 0:
            raise ValueError(f"PIE-Bench mask run ({start}, {length}) is negative")
        flat[start:min(start + length, size)] = True
    return flat.reshape(shape)


def _pie_edited(folder: Path, image_path: str, check_files: bool) -> str:
    candidate = folder / image_path
    if not check_files or candidate.is_file():
        return str(candidate)
    png = candidate.with_suffix(".png")
    if png.is_file():
        return str(png)
    raise _RowProblem("image_path", f"edited image not found: {candidate} (or {png.name})")


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
    mapping = _read_json(mapping_path)
    if not isinstance(mapping, dict):
        raise DatasetError(f"{mapping_path}: expected an object keyed by image id")
    if not outputs:
        raise DatasetError("load_pie_bench: give the editing models' outputs, {model: folder}")
    result = LoadResult()
    for entry_id, entry in mapping.items():
        input_id = str(entry_id)
        try:
            if not isinstance(entry, dict):
                raise _RowProblem(None, "expected an object")
            image_path = _text(entry, "image_path")
            original = _existing(root / "annotation_images", image_path, "image_path",
                                 check_files)
            instruction = _text(entry, instruction_key)
            mask = None
            if entry.get("mask") is not None:
                try:
                    decoded = decode_pie_mask(entry["mask"])
                except (TypeError, ValueError) as err:
                    raise _RowProblem("mask", str(err)) from None
                if mask_dir is not None:
                    mask = _save_mask(decoded, Path(mask_dir) / f"{input_id}.png")
        except _RowProblem as problem:
            result.errors.append(RowError(str(mapping_path), input_id, problem.field_name,
                                          problem.message))
            continue
        edits = [(model, partial(_pie_edited, Path(folder), image_path, check_files))
                 for model, folder in outputs.items()]
        _add_edits(result, str(mapping_path), edits, input_id=input_id, original=original,
                   instruction=instruction, mask=mask)
    return result


# --------------------------------------------------------------------------- plain format

PLAIN_COLUMNS = (
    "item_id", "input_id", "original", "edited", "instruction", "model",
    *(f"human_{aspect}" for aspect in HUMAN_ASPECTS),
    "mask_original", "mask_edited", "role", "spec",
)


def _plain_rows(path: Path) -> list[tuple[int, Any]]:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    text = path.read_text(encoding="utf-8")
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
            rows.append((number, _RowProblem(None, f"not valid JSON ({err.msg})")))
    return rows


def _plain_item(row: Any, root: Path, check_files: bool) -> EditItem:
    if isinstance(row, _RowProblem):
        raise row
    if not isinstance(row, dict):
        raise _RowProblem(None, f"expected an object, got {type(row).__name__}")
    unknown = sorted(k for k in row if k is not None and k not in PLAIN_COLUMNS)
    if unknown:
        raise _RowProblem(unknown[0], f"unknown column(s) {unknown}; known: {PLAIN_COLUMNS}")
    original = _existing(root, _text(row, "original"), "original", check_files)
    edited = _existing(root, _text(row, "edited"), "edited", check_files)
    instruction = row.get("instruction")
    if not isinstance(instruction, str):
        raise _RowProblem("instruction", f"expected a string, got {instruction!r}")
    model = row.get("model") or "model"
    input_id = row.get("input_id") or f"{row['original']}|{instruction}"
    human = {}
    for aspect in HUMAN_ASPECTS:
        number = _number(row.get(f"human_{aspect}"), f"human_{aspect}")
        if number is not None:
            human[aspect] = number
    masks = {}
    for name in ("mask_original", "mask_edited"):
        value = row.get(name)
        masks[name] = _existing(root, value, name, check_files) if value else None
    spec = row.get("spec") or None
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as err:
            raise _RowProblem("spec", f"not valid JSON ({err.msg})") from None
    role = row.get("role") or None
    try:
        return EditItem(item_id=str(row.get("item_id") or f"{input_id}:{model}"),
                        input_id=str(input_id), original=original, edited=edited,
                        instruction=instruction, model=str(model), human=human, spec=spec,
                        role=role, **masks)
    except ItemError as err:
        raise _RowProblem(None, str(err)) from None


def load_plain(path: str | Path, check_files: bool = True) -> LoadResult:
    """Load the plain JSONL (one object per line) or CSV format; see the module doc."""
    path = Path(path)
    result = LoadResult()
    seen: set[str] = set()
    for number, row in _plain_rows(path):
        try:
            item = _plain_item(row, path.parent, check_files)
            if item.item_id in seen:
                raise _RowProblem("item_id", f"duplicate item_id {item.item_id!r}")
            seen.add(item.item_id)
            result.items.append(item)
        except _RowProblem as problem:
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


# --------------------------------------------------------------------------- dispatch


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
