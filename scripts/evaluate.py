"""Score a dataset of edits with BPM and the baseline metrics, resumably, into one JSONL.

    python scripts/evaluate.py --dataset DATA --metrics bpm,l2,lpips,clip-i,clip-t,dino \\
        --models default --out results.jsonl [--report report.html]

    accelerate launch --num_processes 4 scripts/evaluate.py ...   # data-parallel

DATA is any format `evaluation.datasets` reads; `--format` picks the loader (default: from
the file name). One record per (item, metric) is appended to --out, keyed by a content
hash of the inputs and the metric's settings; a rerun skips what is done, a crash loses at
most the batch in flight, and input files are only read (see `evaluation.runner`). Under
`accelerate launch` each process scores its share of the items and the main process
merges the shards into --out. On a machine without GPUs, `accelerate launch --cpu` starts
a single process (accelerate's simple launcher); `accelerate launch --multi_gpu
--num_processes N` starts N CPU processes there.

Metrics: bpm, l2, lpips, clip-i, clip-t, clip-t+i, dino, vlm (`evaluation.metrics`).
--models: default (real weights; see the --*-weights flags and $BPM_EDIT_WEIGHTS),
random (real architectures, random weights) or tiny (small random models, smoke runs).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bpm_edit.devices import FLOAT_DTYPES  # noqa: E402
from bpm_edit.models.registry import VARIANTS  # noqa: E402
from evaluation.datasets.args import add_dataset_arguments, load_dataset_from_args  # noqa: E402


def _weight_flags() -> dict[str, str]:
    """CLI flag -> weights key for every model the metrics may load."""
    from bpm_edit.models.registry import WEIGHT_KEYS
    from evaluation.metrics.dino import DINO_WEIGHTS
    from evaluation.metrics.lpips import ALEXNET_WEIGHTS, LIN_WEIGHTS

    flags = {flag: key for key, flag in WEIGHT_KEYS.items()}
    for spec in (ALEXNET_WEIGHTS, LIN_WEIGHTS, DINO_WEIGHTS):
        flags[spec.flag] = spec.key
    return flags


def build_parser(weight_flags: dict[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    data = parser.add_argument_group("dataset")
    add_dataset_arguments(data)
    data.add_argument("--mask-dir", help="magicbrush/piebench: folder to write decoded masks to")
    data.add_argument("--limit", type=int, help="score only the first N items")

    run = parser.add_argument_group("run")
    run.add_argument("--metrics", required=True, help="comma-separated, e.g. bpm,l2,clip-t")
    run.add_argument("--models", choices=VARIANTS, default="default")
    run.add_argument("--out", required=True, help="result JSONL (appended to, resumable)")
    run.add_argument("--batch-size", type=int, default=8, help="items per batch")
    run.add_argument("--device", help="torch device (default: the accelerate process's "
                                      "device, else cuda if available, else cpu)")
    run.add_argument("--dtype", choices=FLOAT_DTYPES, default=None)
    run.add_argument("--report", help="also write the HTML report here")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")

    model = parser.add_argument_group("metric options")
    model.add_argument("--clip-model", default="ViT-L-14",
                       help="open_clip ARCH[/TAG] of the CLIP baselines (default: %(default)s)")
    model.add_argument("--parser", default="rules", help="BPM instruction parser")
    model.add_argument("--use-dataset-masks", action="store_true",
                       help="BPM: use the dataset's masks instead of detection + SAM")
    model.add_argument("--sam-dtype", choices=FLOAT_DTYPES,
                       help="BPM: SAM autocast precision if not --dtype (speed option that "
                            "changes the numbers slightly, e.g. bfloat16 on CPUs with "
                            "avx512_bf16; see BENCHMARKS.md)")
    model.add_argument("--detection-size", type=int, metavar="PX",
                       help="BPM: detector working shortest edge (default 800; smaller is "
                            "faster and changes the numbers, see BENCHMARKS.md)")
    model.add_argument("--sam-batch-size", type=int, default=1, metavar="N",
                       help="BPM: images per SAM encoder forward (default 1; more pays on "
                            "a GPU only; the scores do not change)")
    model.add_argument("--vlm-url", help="vlm: OpenAI-compatible API root, e.g. "
                                         "http://localhost:8000/v1")
    model.add_argument("--vlm-model", help="vlm: model name at that endpoint")
    model.add_argument("--vlm-api-key-env", default="OPENAI_API_KEY",
                       help="vlm: environment variable holding the API key")
    model.add_argument("--vlm-concurrency", type=int, default=4,
                       help="vlm: parallel requests per batch")
    for flag, key in weight_flags.items():
        model.add_argument(flag, dest=f"weights_{key}", metavar="PATH",
                           help=f"local copy of the {key} weights")
    return parser


def _bpm_options(args: argparse.Namespace) -> dict:
    """`BPM` keyword arguments from the metric options."""
    model_options = {"sam_dtype": args.sam_dtype, "detection_size": args.detection_size}
    model_options = {k: v for k, v in model_options.items() if v is not None}
    if args.sam_batch_size != 1:
        model_options["sam_batch_size"] = args.sam_batch_size
    options: dict = {"parser": args.parser}
    if model_options:
        options["model_options"] = model_options
    return options


def _accelerator(device: str | None):
    """An `accelerate.Accelerator` (one process when not launched by accelerate)."""
    from accelerate import Accelerator

    return Accelerator(cpu=device == "cpu")


def main(argv: list[str] | None = None) -> int:
    weight_flags = _weight_flags()
    args = build_parser(weight_flags).parse_args(argv)

    from evaluation.datasets import DatasetError
    from evaluation.metrics import FatalMetricError, build_metrics, parse_metric_names
    from evaluation.runner import evaluate

    try:
        names = parse_metric_names(args.metrics)
        if args.batch_size < 1:
            raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
        if args.sam_batch_size < 1:
            raise ValueError(f"--sam-batch-size must be >= 1, got {args.sam_batch_size}")
        loaded = load_dataset_from_args(args, mask_dir=args.mask_dir)
    except (ValueError, DatasetError, OSError) as err:
        print(f"evaluate.py: error: {err}", file=sys.stderr)
        return 2

    accelerator = _accelerator(args.device)
    is_main = accelerator.is_main_process
    if is_main:
        for error in loaded.errors:
            print(f"dataset row skipped: {error}", file=sys.stderr)
    items = loaded.items[: args.limit] if args.limit is not None else loaded.items
    if not items:
        print(f"evaluate.py: error: no items loaded from {args.dataset}", file=sys.stderr)
        return 2

    device = args.device
    if device is None or (accelerator.num_processes > 1 and device == "cuda"):
        device = str(accelerator.device)
    weights = {key: getattr(args, f"weights_{key}") for key in weight_flags.values()
               if getattr(args, f"weights_{key}", None)}
    vlm_options = None
    if "vlm" in names:
        vlm_options = {"base_url": args.vlm_url, "model": args.vlm_model,
                       "api_key": os.environ.get(args.vlm_api_key_env) or None,
                       "concurrency": args.vlm_concurrency}
    try:
        metrics = build_metrics(
            names, models=args.models, device=device, dtype=args.dtype, weights=weights,
            vlm_options=vlm_options, bpm_options=_bpm_options(args),
            use_dataset_masks=args.use_dataset_masks, clip_model=args.clip_model,
        )
        summary = evaluate(items, metrics, args.out, batch_size=args.batch_size,
                           progress=not args.no_progress, accelerator=accelerator)
    except (ValueError, FileNotFoundError, FatalMetricError, RuntimeError) as err:
        print(f"evaluate.py: error: {err}", file=sys.stderr)
        return 2
    rank = "" if accelerator.num_processes == 1 else \
        f"[process {accelerator.process_index}/{accelerator.num_processes}] "
    print(rank + summary.line(), file=sys.stderr)
    if is_main and args.report:
        from evaluation.report import write_report

        path = write_report(args.out, args.report, items=items)
        print(f"report: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
