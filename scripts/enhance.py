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
the next run. Input files are only read. (The runs themselves: `pipelines.run`,
`pipelines.batch`.)

--model: ip2p | magicbrush | tiny | random | a local pipeline directory. Steps, scales
and working resolution default to the model's registry entry (pipelines.editing_models).
--metric-models: default (real weights) | tiny | random; default: tiny for --model tiny,
else default.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bpm_edit.devices import FLOAT_DTYPES  # noqa: E402
from bpm_edit.errors import InputError  # noqa: E402
from bpm_edit.models.registry import VARIANTS  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEFAULT_IMAGE = EXAMPLES / "chelsea.jpg"
DEFAULT_INSTRUCTION = "turn the cat into a tiger"


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
    from pipelines.batch import run_enhance_batch
    from pipelines.editing_models import EditingModelError
    from pipelines.masks import MaskError
    from pipelines.run import run_enhance_single

    clear_errors = (
        InputError, EditingModelError, DeviceError, ImageError, MaskError, SpecError, OSError
    )
    try:
        if args.batch:
            return run_enhance_batch(args)
        image = Path(args.image) if args.image else DEFAULT_IMAGE
        instruction = args.instruction if args.instruction is not None else DEFAULT_INSTRUCTION
        return run_enhance_single(args, image, instruction)
    except clear_errors as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
