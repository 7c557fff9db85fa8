"""Two-round BPM mask-guided editing (paper Sec. 3.5) from the command line.

    python scripts/enhance.py --model ip2p                       # bundled example
    python scripts/enhance.py --model magicbrush --image in.jpg --instruction "..." --out DIR
    python scripts/enhance.py --model tiny                       # offline smoke run, seconds
    python scripts/enhance.py --model ip2p --batch items.jsonl --out DIR

One image: writes round1.png, round2.png (when round 2 ran; a global edit skips it),
mask.png (M_all), comparison.png (original | round 1 | mask overlay | round 2, with the
scores) and result.json (scores of both rounds and their deltas, the spec, a regions
summary, settings, model ids, package versions) into --out.

--batch FILE.jsonl: one JSON object per line with "image" and "instruction" (optional
"mask", "seed"); relative paths are resolved against the JSONL's folder, then the
current directory. Each finished item appends one line to OUT/results.jsonl and writes
its images under OUT/items/KEY/, where KEY is a content hash of the inputs (image and
mask bytes, instruction) and the settings. A rerun skips finished keys, so a crash loses
at most the item in flight; a failing item is reported with its file:line and retried on
the next run. Input files are only read.

--model: ip2p | magicbrush | tiny | random | a local pipeline directory. Steps, scales
and working resolution default to the model's registry entry (pipelines.editing_models).
--metric-models: default (real weights) | tiny | random; default: tiny for --model tiny,
else default.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bpm_edit.devices import FLOAT_DTYPES  # noqa: E402
from bpm_edit.models.registry import VARIANTS  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEFAULT_IMAGE = EXAMPLES / "chelsea.jpg"
DEFAULT_INSTRUCTION = "turn the cat into a tiger"
PACKAGES = (
    "bpm-edit", "torch", "diffusers", "transformers", "open_clip_torch", "segment-anything",
    "numpy", "pillow",
)


class InputError(ValueError):
    """Bad command-line input: one clear message, nothing written."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="enhance.py",
        description="Edit an image twice: plainly, then with BPM region-masked text guidance, "
        "and score both rounds.",
    )
    parser.add_argument("--model", default="ip2p", help="ip2p | magicbrush | tiny | random | DIR")
    parser.add_argument("--image", help=f"input image (default: {DEFAULT_IMAGE.name} example)")
    parser.add_argument("--instruction", help="edit instruction (default: the example's)")
    parser.add_argument("--mask", help="known edit mask for the image (skips localization)")
    parser.add_argument("--batch", help="JSONL file, one {image, instruction} object per line")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, help="denoising steps (default: the model's)")
    parser.add_argument("--guidance-scale", type=float, help="text guidance s_T")
    parser.add_argument("--image-guidance-scale", type=float, help="image guidance s_I")
    parser.add_argument("--resolution", type=int, help="working size: long side in pixels")
    parser.add_argument("--mask-dilation", type=int, default=0, help="latent pixels")
    parser.add_argument("--mask-feather", type=int, default=0, help="latent pixels")
    parser.add_argument("--mask-floor", type=float, default=0.0, help="text guidance outside M")
    parser.add_argument(
        "--preserve-blend", action="store_true", help="also paste the noised original outside M"
    )
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | mps")
    parser.add_argument("--dtype", default="auto", help="auto | float32 | float16 | bfloat16")
    parser.add_argument("--metric-models", choices=VARIANTS, help="BPM model variant")
    parser.add_argument("--sam-dtype", choices=FLOAT_DTYPES,
                        help="BPM: SAM autocast precision (speed option, see BENCHMARKS.md)")
    parser.add_argument("--detection-size", type=int, metavar="PX",
                        help="BPM: detector working shortest edge (default 800)")
    parser.add_argument("--out", default="enhance-output", help="output folder")
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads for torch (default: 1 for --model tiny, whose tensors are too small "
        "to gain from threads and lose a lot to contention; otherwise torch's default)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    threads = args.threads if args.threads is not None else (1 if args.model == "tiny" else None)
    if threads is not None:
        if threads < 1:
            print(f"error: --threads must be >= 1, got {threads}", file=sys.stderr)
            return 2
        torch.set_num_threads(threads)
    from bpm_edit.devices import DeviceError
    from bpm_edit.images import ImageError
    from bpm_edit.spec import SpecError
    from pipelines.editing_models import EditingModelError
    from pipelines.masks import MaskError

    clear_errors = (
        InputError, EditingModelError, DeviceError, ImageError, MaskError, SpecError, OSError
    )
    try:
        check_arguments(args)
        if args.batch:
            return run_batch(args)
        return run_single(args)
    except clear_errors as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


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


# ------------------------------------------------------------------------- one image


def run_single(args: argparse.Namespace) -> int:
    image = Path(args.image) if args.image else DEFAULT_IMAGE
    instruction = args.instruction if args.instruction is not None else DEFAULT_INSTRUCTION
    inputs = check_item(image, instruction, args.mask, where="")
    editor, metric, info = load_models(args)
    out = Path(args.out)
    result = enhance_item(args, editor, metric, info, inputs)
    files = write_outputs(result, out, inputs, args)
    summary = result.to_dict()
    print(format_summary(summary))
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
    """The editing pipeline and the BPM metric, each built once (fail fast)."""
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
    from pipelines.enhancer import render_comparison

    out.mkdir(parents=True, exist_ok=True)
    files = {"round1.png": result.round1.image, "comparison.png": render_comparison(result)}
    if result.round2 is not None:
        files["round2.png"] = result.round2.image
    from PIL import Image

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
    text = json.dumps(record, indent=2, default=_json_default)
    _atomic_write(out / "result.json", lambda path: Path(path).write_text(text + "\n"))
    return record["files"]


def format_summary(summary: dict[str, Any]) -> str:
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
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename over `path`."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# ------------------------------------------------------------------------- batch


def run_batch(args: argparse.Namespace) -> int:
    batch = Path(args.batch)
    if args.image or args.instruction or args.mask:
        raise InputError("--batch takes images and instructions from the file; "
                         "drop --image/--instruction/--mask")
    items = read_batch(batch)
    editor, metric, info = load_models(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.jsonl"
    done = finished_keys(results_path)
    from tqdm.auto import tqdm

    failures = 0
    progress = tqdm(items, desc="items", disable=args.quiet)
    for item in progress:
        seed = item.get("seed", args.seed)
        key = item_key(item, seed, args, info)
        if key in done:
            continue
        where = f"{batch}:{item['line']}: "
        try:
            result = enhance_item(args, editor, metric, info, item, seed=seed)
            folder = out / "items" / key[:16]
            files = write_outputs(result, folder, item, args)
        except (ValueError, OSError) as err:
            failures += 1
            progress.write(f"error: {where}{err}")
            continue
        record = {
            "key": key,
            "line": item["line"],
            "image": str(item["image"]),
            "instruction": item["instruction"],
            "folder": str(folder.relative_to(out)),
            "files": files,
            **{k: v for k, v in result.to_dict().items() if k in _RECORD_FIELDS},
        }
        append_record(results_path, record)
        done.add(key)
    print(f"{len(done)} finished item(s) in {results_path}; {failures} failed this run")
    return 1 if failures else 0


_RECORD_FIELDS = ("round1", "round2", "delta", "round2_status", "spec", "flags", "settings")


def read_batch(path: Path) -> list[dict[str, Any]]:
    """Validate every line of the JSONL before anything runs; errors name file:line."""
    if not path.is_file():
        raise InputError(f"batch file not found: {path}")
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}: "
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{where}not valid JSON ({err.msg})") from err
        if not isinstance(entry, dict):
            raise InputError(f"{where}expected a JSON object with image and instruction")
        unknown = sorted(set(entry) - {"image", "instruction", "mask", "seed", "id"})
        if unknown:
            raise InputError(f"{where}unknown field(s) {unknown}")
        if not isinstance(entry.get("image"), str):
            raise InputError(f"{where}missing 'image' (a path)")
        if "seed" in entry and not isinstance(entry["seed"], int):
            raise InputError(f"{where}'seed' must be an integer")
        image = _resolve(entry["image"], path.parent)
        mask = None if entry.get("mask") is None else str(_resolve(entry["mask"], path.parent))
        checked = check_item(image, entry.get("instruction"), mask, where)
        items.append({**checked, **{k: entry[k] for k in ("seed", "id") if k in entry},
                      "line": number})
    if not items:
        raise InputError(f"{path}: no items (one JSON object per line)")
    return items


def _resolve(name: str, folder: Path) -> Path:
    candidate = Path(name).expanduser()
    if candidate.is_absolute():
        return candidate
    beside = folder / candidate
    return beside if beside.exists() or not candidate.exists() else candidate


def item_key(item: dict[str, Any], seed: int, args: argparse.Namespace, info) -> str:
    """Content hash of the inputs and every setting that changes the result."""
    digest = hashlib.sha256()
    digest.update(Path(item["image"]).read_bytes())
    if item["mask"] is not None:
        digest.update(Path(item["mask"]).read_bytes())
    settings = {
        "instruction": item["instruction"],
        "seed": seed,
        "model": args.model if info.name not in ("tiny", "random") else info.name,
        "steps": args.steps,
        "guidance_scale": args.guidance_scale,
        "image_guidance_scale": args.image_guidance_scale,
        "resolution": args.resolution,
        "mask_options": [args.mask_dilation, args.mask_feather, args.mask_floor,
                         args.preserve_blend],
        "device": args.device,
        "dtype": args.dtype,
        "metric_models": args.metric_models,
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()


def finished_keys(path: Path) -> set[str]:
    """Keys of complete records; a torn last line (crash mid-write) is ignored."""
    if not path.is_file():
        return set()
    keys = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            keys.add(json.loads(line)["key"])
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return keys


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and flush it to disk (after a torn line, start a new one)."""
    text = json.dumps(record, default=_json_default) + "\n"
    with open(path, "a+b") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                text = "\n" + text
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())


if __name__ == "__main__":
    sys.exit(main())
