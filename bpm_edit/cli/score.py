"""The `bpm-edit score` subcommand: score one (original, edited, instruction) triple and
print the result as one JSON object (`BPMResult.to_dict()`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bpm_edit.devices import FLOAT_DTYPES
from bpm_edit.models.registry import DETECTOR_BACKENDS, VARIANTS, WEIGHT_KEYS
from bpm_edit.parsing import PARSER_NAMES

EPILOG = """\
Output: one JSON object with s_modify, s_preserve, s_size, s_position, s_semantic,
s_region, bpm, flags, spec, regions, verdicts, normalization and timings.

--spec takes the JSON that `bpm-edit parse` prints (a parse fixed by hand can be reused).
--mask-original / --mask-edited are image files of the original's size, non-zero =
inside (an edited image of another size may come with a mask of its own size: it is
resized with it, flagged mask_edited_resized); with masks, detection is skipped (an add
needs only --mask-edited, a removal only --mask-original).
--out DIR writes DIR/result.json and the visual report DIR/report.png.
"""


def register(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "score", help="score an edit with the BPM metric",
        description="Score an instruction-based image edit with the BPM metric.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("--original", required=True, help="the original image file")
    command.add_argument("--edited", required=True, help="the edited image file")
    what = command.add_mutually_exclusive_group(required=True)
    what.add_argument("--instruction", help="the editing instruction")
    what.add_argument("--spec", help="a JSON file with an EditSpec (as `bpm-edit parse` prints)")
    command.add_argument("--mask-original", help="mask of the edited object in the original")
    command.add_argument("--mask-edited", help="mask of the edited object in the edited image")
    command.add_argument("--models", default="default", choices=VARIANTS,
                         help="model weights: real (default), tiny or full-size random")
    command.add_argument("--device", default="cpu", help="torch device (default cpu)")
    command.add_argument("--dtype", default=None, choices=FLOAT_DTYPES,
                         help="inference precision (default float32)")
    command.add_argument("--parser", default="rules", choices=PARSER_NAMES,
                         help="instruction parser for --instruction (default rules)")
    command.add_argument("--alpha", type=float, default=0.7,
                         help="weight of S_semantic against S_region (default 0.7)")
    command.add_argument("--detector-backend", default="transformers",
                         choices=DETECTOR_BACKENDS)
    command.add_argument("--clip-model", default="ViT-L-14",
                         help="open_clip architecture[/tag] (default ViT-L-14, openai weights)")
    command.add_argument("--sam-model", default="vit_h", help="SAM size: vit_h, vit_l or vit_b")
    command.add_argument("--sam-dtype", choices=FLOAT_DTYPES,
                         help="SAM autocast precision if not --dtype (speed option, e.g. "
                              "bfloat16 on CPUs with avx512_bf16; see BENCHMARKS.md)")
    command.add_argument("--detection-size", type=int, metavar="PX",
                         help="detector working shortest edge (default 800; smaller is "
                              "faster, see BENCHMARKS.md)")
    for key, flag in WEIGHT_KEYS.items():
        command.add_argument(flag, dest=f"weights_{key}", metavar="PATH",
                             help=f"local copy of the {key.replace('_', ' ')} weights")
    command.add_argument("--out", help="directory for result.json and report.png")
    command.set_defaults(run=run)


def read_spec_file(path: str) -> Any:
    """The `EditSpec` in a JSON file, with errors that name the file."""
    from bpm_edit.spec import EditSpec

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"--spec: file not found: {file}")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"--spec: {file} is not valid JSON ({err})") from err
    try:
        return EditSpec.from_dict(data)
    except (ValueError, TypeError) as err:
        raise ValueError(f"--spec: {file}: {err}") from err


def edited_mask(
    path: str | None, original_size: tuple[int, int], edited_size: tuple[int, int]
) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """The edited image's mask in the original's pixel grid.

    A mask of the original's size is used as is. When the edited image has another size
    (it is resized to the original's for scoring), a mask of the EDITED image's size is
    resized the same way (nearest neighbour) and flagged "mask_edited_resized"; any
    other size is an error naming the sizes.
    """
    from bpm_edit.images import ImageError, load_mask

    if path is None:
        return None, ()
    try:
        return load_mask(path, original_size, "--mask-edited"), ()
    except ImageError as err:
        if edited_size == original_size or "mask is" not in str(err):
            raise
        first_error = err
    try:
        mask = load_mask(path, edited_size, "--mask-edited")
    except ImageError as err:
        width, height = edited_size
        raise ImageError(f"{first_error}, nor the edited image's {width}x{height}") from err
    resized = Image.fromarray(mask.astype(np.uint8) * 255).resize(
        original_size, Image.Resampling.NEAREST)
    return np.asarray(resized) > 127, ("mask_edited_resized",)


def run(args: argparse.Namespace) -> int:
    from bpm_edit.images import load_image, load_mask
    from bpm_edit.localization.regions import Regions
    from bpm_edit.metric import BPM

    weights = {key: getattr(args, f"weights_{key}")
               for key in ("clip", "sam", "detector", "detector_tokenizer")
               if getattr(args, f"weights_{key}")}
    model_options: dict[str, Any] = {"detector_backend": args.detector_backend,
                                     "clip_model": args.clip_model, "sam_model": args.sam_model}
    if weights:
        model_options["weights"] = weights
    if args.sam_dtype:
        model_options["sam_dtype"] = args.sam_dtype
    if args.detection_size is not None:
        model_options["detection_size"] = args.detection_size
    metric = BPM(models=args.models, device=args.device, dtype=args.dtype, alpha=args.alpha,
                 parser=args.parser, model_options=model_options)
    original = load_image(args.original, "--original")
    edited = load_image(args.edited, "--edited")
    spec = read_spec_file(args.spec) if args.spec else metric.parse(args.instruction)
    regions = None
    extra_flags: tuple[str, ...] = ()
    if args.mask_original or args.mask_edited:
        mask_original = load_mask(args.mask_original, original.size, "--mask-original")
        mask_edited, extra_flags = edited_mask(args.mask_edited, original.size, edited.size)
        regions = Regions.from_masks(spec, mask_original, mask_edited)
    result = metric.score(original, edited, spec, regions=regions)
    if extra_flags:
        result = dataclasses.replace(result, flags=result.flags + extra_flags)
    data = result.to_dict()
    if args.out:
        from bpm_edit.figures import render_report
        from bpm_edit.images import align_pair

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        aligned, _ = align_pair(original, edited)
        render_report(original, aligned, result).save(out / "report.png")
    print(json.dumps(data, indent=2))
    return 0
