"""One enhance run from `scripts/enhance.py`'s options: inputs checked before anything
loads, the editing pipeline and the BPM metric built once, an item enhanced, its files
written.

`args` is the `argparse.Namespace` of `scripts/enhance.py` (its `build_parser`). The
batch runner (`pipelines.batch`) reuses every step here for each of its items.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from bpm_edit.errors import InputError

#: The packages whose versions each result.json records.
PACKAGES = (
    "bpm-edit", "torch", "diffusers", "transformers", "open_clip_torch", "segment-anything",
    "numpy", "pillow",
)


def check_arguments(args: argparse.Namespace) -> None:
    """Numeric options in their domains, before anything is loaded or written."""
    from pipelines.masks import check_mask_options

    if args.steps is not None and args.steps < 1:
        raise InputError(f"--steps must be >= 1, got {args.steps}")
    if args.guidance_scale is not None and args.guidance_scale <= 1:
        raise InputError(f"--guidance-scale must be > 1 (text guidance), got {args.guidance_scale}")
    if args.image_guidance_scale is not None and args.image_guidance_scale < 1:
        raise InputError(f"--image-guidance-scale must be >= 1, got {args.image_guidance_scale}")
    if args.resolution is not None and args.resolution < 64:
        raise InputError(f"--resolution must be >= 64 pixels, got {args.resolution}")
    check_mask_options(dilation=args.mask_dilation, feather=args.mask_feather,
                       floor=args.mask_floor)


def run_enhance_single(args: argparse.Namespace, image: Path, instruction: str) -> int:
    """Enhance one image (mask from ``args.mask``), write its files into ``args.out`` and
    print the summary; returns the exit status (0)."""
    check_arguments(args)
    inputs = check_item(image, instruction, args.mask, where="")
    editor, metric, info = load_models(args)
    out = Path(args.out)
    result = enhance_item(args, editor, metric, info, inputs)
    files = write_outputs(result, out, inputs, args)
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


def load_models(args: argparse.Namespace):
    """The editing pipeline and the BPM metric, each built once (fail fast).

    Sets ``args.metric_models`` to the variant used (tiny for ``--model tiny``).
    """
    from bpm_edit.metric import BPM
    from pipelines.editing_models import editing_model_info, load_editing_pipeline

    info = editing_model_info(args.model)
    editor = load_editing_pipeline(args.model, device=args.device, dtype=args.dtype)
    variant = args.metric_models or ("tiny" if info.name == "tiny" else "default")
    options = {"sam_dtype": args.sam_dtype, "detection_size": args.detection_size}
    metric = BPM(models=variant, device=args.device,
                 model_options={k: v for k, v in options.items() if v is not None})
    _ = metric.models  # missing metric weights: fail now, before any edit
    args.metric_models = variant
    return editor, metric, info


def enhance_item(args, editor, metric, info, inputs: dict[str, Any], seed: int | None = None):
    """`pipelines.enhancer.enhance` of one checked item with the run's settings."""
    from pipelines.enhancer import enhance

    return enhance(
        inputs["image"],
        inputs["instruction"],
        editor,
        model_info=info,
        seed=args.seed if seed is None else seed,
        steps=args.steps,
        guidance_scale=args.guidance_scale,
        image_guidance_scale=args.image_guidance_scale,
        metric=metric,
        metric_models=args.metric_models,
        resolution=args.resolution,
        mask=inputs["mask"],
        mask_dilation=args.mask_dilation,
        mask_feather=args.mask_feather,
        mask_floor=args.mask_floor,
        preserve_blend=args.preserve_blend,
        progress=not args.quiet,
    )


def write_outputs(result, out: Path, inputs: dict[str, Any], args) -> list[str]:
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
        "command": {"model": args.model, "device": args.device, "dtype": args.dtype},
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
