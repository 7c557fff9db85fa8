"""One enhance run: inputs checked before anything loads, the editing pipeline and the
BPM metric built once, an item enhanced, its files written.

Settings come as an `EditConfig` (the editor) and a `MetricConfig` (the metric); the
batch runner (`pipelines.batch`) reuses every step here for each of its items.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from bpm_edit.config import MetricConfig
from bpm_edit.errors import InputError
from pipelines.config import EditConfig

#: The packages whose versions each result.json records.
PACKAGES = (
    "bpm-edit", "torch", "diffusers", "transformers", "open_clip_torch", "segment-anything",
    "numpy", "pillow",
)


def run_enhance_single(
    edit: EditConfig,
    metric: MetricConfig | None,
    image: Path,
    instruction: str,
    mask: str | None,
    out: Path,
    progress: bool = True,
) -> int:
    """Enhance one image, write its files into `out` and print the summary; returns the
    exit status (0). `metric` None: `enhancer.default_metric_config` for the editor."""
    inputs = check_item(image, instruction, mask, where="")
    editor, bpm, info = load_models(edit, metric)
    result = enhance_item(edit, editor, bpm, info, inputs, progress=progress)
    files = write_outputs(result, out, inputs, edit)
    print(format_summary(result.to_dict()))
    print(f"wrote {', '.join(sorted(files))} to {out}")
    return 0


def check_item(image: Path, instruction: Any, mask: str | None, where: str) -> dict[str, Any]:
    """Validate one input before any model is loaded; `where` prefixes messages."""
    from bpm_edit.images import load_image, load_mask

    if not isinstance(instruction, str) or not instruction.strip():
        raise InputError(f"{where}instruction is empty: say what to edit")
    if not image.is_file():
        raise InputError(f"{where}image not found: {image}")
    picture = load_image(image, f"{where}image")
    mask_path = None
    if mask is not None:
        mask_path = Path(mask)
        if not mask_path.is_file():
            raise InputError(f"{where}mask not found: {mask_path}")
        load_mask(mask_path, picture.size, f"{where}mask {mask_path}")
    return {"image": image, "instruction": instruction.strip(), "mask": mask_path}


def load_models(edit: EditConfig, metric: MetricConfig | None):
    """The editing pipeline, the BPM metric and the editor's registry entry, each built
    once (fail fast: missing weights are reported before any edit)."""
    from bpm_edit.metric import BPM
    from pipelines.editing_models import editing_model_info, load_editing_pipeline
    from pipelines.enhancer import default_metric_config

    info = editing_model_info(edit.model)
    bpm = BPM(metric or default_metric_config(info, edit.device))
    editor = load_editing_pipeline(edit.model, device=edit.device, dtype=edit.dtype)
    _ = bpm.models
    return editor, bpm, info


def enhance_item(edit: EditConfig, editor, bpm, info, inputs: dict[str, Any],
                 seed: int | None = None, progress: bool = True):
    """`pipelines.enhancer.enhance` of one checked item (`seed` overrides the config's)."""
    from pipelines.enhancer import enhance

    config = edit if seed is None else edit.replace(seed=seed)
    return enhance(inputs["image"], inputs["instruction"], config, pipe=editor,
                   model_info=info, metric=bpm, mask=inputs["mask"], progress=progress)


def write_outputs(result, out: Path, inputs: dict[str, Any], edit: EditConfig) -> list[str]:
    """Write the images and result.json into `out` (each file atomically)."""
    from PIL import Image

    from pipelines.enhancer import render_comparison

    out.mkdir(parents=True, exist_ok=True)
    files = {"round1.png": result.round1.image, "comparison.png": render_comparison(result)}
    if result.round2 is not None:
        files["round2.png"] = result.round2.image
    files["mask.png"] = Image.fromarray(result.mask.astype("uint8") * 255)
    for name, picture in files.items():
        _atomic_write(out / name, lambda path, picture=picture: picture.save(path, format="PNG"))
    record = {
        **result.to_dict(),
        "inputs": {
            "image": str(inputs["image"]),
            "mask": None if inputs["mask"] is None else str(inputs["mask"]),
        },
        "files": sorted([*files, "result.json"]),
        "package_versions": package_versions(),
        "command": {"model": edit.model, "device": edit.device, "dtype": edit.dtype},
    }
    text = json.dumps(record, indent=2, default=json_default)
    _atomic_write(out / "result.json", lambda path: Path(path).write_text(text + "\n"))
    return record["files"]


def format_summary(summary: dict[str, Any]) -> str:
    """The scores of both rounds and their deltas, one line per score."""
    lines = [f"instruction: {summary['instruction']}", f"round 2: {summary['round2_status']}"]
    for key in ("bpm", "s_modify", "s_preserve", "l2", "clip_t"):
        first = summary["round1"].get(key)
        second = (summary["round2"] or {}).get(key)
        delta = (summary["delta"] or {}).get(key)
        lines.append(
            f"  {key:<11} round 1 {_fmt(first):>8}   round 2 {_fmt(second):>8}   "
            f"delta {_fmt(delta, signed=True):>8}"
        )
    if summary["flags"]:
        lines.append(f"flags: {', '.join(summary['flags'])}")
    return "\n".join(lines)


def _fmt(value: Any, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def package_versions() -> dict[str, str | None]:
    """Installed versions of `PACKAGES` (None for a missing one)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file in the same folder, then rename over `path`."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def json_default(value: Any) -> Any:
    """JSON for numpy scalars and paths in results (`json.dumps(default=...)`)."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
