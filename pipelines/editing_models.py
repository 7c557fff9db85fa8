"""Registry of editing models: a name or directory in, a `MaskGuidedInstructPix2PixPipeline` out.

| name         | weights                          | scheduler              | steps | s_T | s_I |
|--------------|----------------------------------|------------------------|-------|-----|-----|
| `ip2p`       | hub `timbrooks/instruct-pix2pix` | Euler ancestral        | 100   | 7.5 | 1.5 |
| `magicbrush` | hub `vinesmsuic/magicbrush-jul7` | Euler ancestral        | 100   | 7.5 | 1.5 |
| `tiny`       | random, built in code (seeded)   | Euler ancestral        | 3     | 7.5 | 1.5 |
| `random`     | random, SD1.5 sizes, in code     | Euler ancestral        | 100   | 7.5 | 1.5 |

The defaults are the authors' own: InstructPix2Pix's `edit_cli.py` and MagicBrush's
`edit_cli_single_multi_turn.py` both sample with k-diffusion's Euler ancestral sampler,
100 steps, text scale 7.5, image scale 1.5, at about 512 px on the long side with sides
rounded to multiples of 64. `magicbrush-jul7` is a fine-tune of InstructPix2Pix whose
hub card names another pipeline class, so it is loaded with the IP2P class explicitly.
Hub models load without the safety checker (a research tool; pass your own if needed).

A local directory laid out like the hub repos (model_index.json, unet/, vae/,
text_encoder/, tokenizer/, scheduler/) loads with the `ip2p` defaults. Every loaded
pipeline gets the scheduler of its registry entry (Euler ancestral for all IP2P-layout
models) built from the saved scheduler's config, whether it comes from the hub, from
`$BPM_EDIT_WEIGHTS/<repo-name>/`, the Hugging Face cache or a directory given as is: the
scheduler class saved in scheduler/ is ignored (its noise schedule is kept), so one
model gives the same edits wherever it was loaded from. `tiny` (for
tests and offline smoke runs) and `random` (real SD1.5 architecture, for timing) are
built in code with seeded random weights; neither needs a download.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from bpm_edit.devices import resolve_device, resolve_dtype
from bpm_edit.errors import ConfigError, InputError, WeightsError, WeightsNotFoundError
from bpm_edit.models.weights import WEIGHTS_DIR_ENV, offline_mode, weights_tag

if TYPE_CHECKING:  # torch, diffusers and transformers load only when a model is built
    import torch
    from transformers import CLIPTextConfig, CLIPTokenizer

    from pipelines.mask_guided_ip2p import MaskGuidedInstructPix2PixPipeline

#: Stable Diffusion 1.x noise schedule, as in the IP2P repo's scheduler_config.json.
SD_SCHEDULE = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    steps_offset=1,
    prediction_type="epsilon",
)


#: Longest working-size side any editor accepts (`--resolution`), in pixels: 8x the
#: 512 px the SD1.5-based editors were trained at. Beyond it the VAE's full-resolution
#: activations alone pass 40 GB in float32 (`estimate_memory`).
MAX_RESOLUTION = 4096
#: Shortest side an input image may have, in pixels: below it there is nothing to edit
#: (a 1x1 image would be upscaled to the working size and edited as noise).
MIN_IMAGE_SIDE = 32


def _dtype_keyword() -> str:
    """`from_pretrained`'s dtype keyword: diffusers 0.42 renamed `torch_dtype` to `dtype`
    (the old name still works there, with a deprecation warning)."""
    from packaging.version import Version

    return "dtype" if Version(metadata.version("diffusers")) >= Version("0.42.1") \
        else "torch_dtype"


class EditingModelError(WeightsError, ValueError):
    """An editing model cannot be resolved or loaded."""


@dataclass(frozen=True)
class EditingModel:
    """One registry entry and its documented sampling defaults."""

    name: str
    source: str  # hub repo id, or "built in code"
    steps: int
    guidance_scale: float
    image_guidance_scale: float
    resolution: int  # working size: long side in pixels
    size_multiple: int  # both sides rounded to a multiple of this
    scheduler: str = "EulerAncestralDiscreteScheduler"
    description: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


EDITING_MODELS: dict[str, EditingModel] = {
    "ip2p": EditingModel(
        "ip2p", "timbrooks/instruct-pix2pix", 100, 7.5, 1.5, 512, 64,
        description="InstructPix2Pix (Brooks et al., 2023)",
    ),
    "magicbrush": EditingModel(
        "magicbrush", "vinesmsuic/magicbrush-jul7", 100, 7.5, 1.5, 512, 64,
        description="InstructPix2Pix fine-tuned on MagicBrush (Zhang et al., 2023)",
    ),
    "tiny": EditingModel(
        "tiny", "built in code", 3, 7.5, 1.5, 64, 8,
        description="tiny random-weight IP2P pipeline for tests and offline smoke runs",
    ),
    "random": EditingModel(
        "random", "built in code", 100, 7.5, 1.5, 512, 64,
        description="SD1.5-size IP2P pipeline with random weights, for timing",
    ),
}


#: Parameters and peak activation elements per working-size pixel of the editors, by
#: registry name (others: the SD1.5 architecture). See `estimate_memory`.
FOOTPRINTS = {"tiny": (2_119_445, 440)}
SD15_FOOTPRINT = (1_067_000_000, 1_360)


def working_size(size: tuple[int, int], resolution: int, multiple: int) -> tuple[int, int]:
    """The (width, height) an image of `size` is edited at: aspect kept, the long side
    about `resolution`, both sides multiples of `multiple` (at least one multiple)."""
    if resolution < multiple:
        raise ValueError(f"resolution {resolution} is below the size multiple {multiple}")
    scale = resolution / max(size)
    width, height = (max(multiple, int(round(side * scale / multiple)) * multiple)
                     for side in size)
    return width, height


def check_image_size(size: tuple[int, int], where: str = "image ") -> None:
    """Refuse an image of `size` = (width, height) with a side below `MIN_IMAGE_SIDE`."""
    if min(size) < MIN_IMAGE_SIDE:
        raise InputError(
            f"{where}is {size[0]}x{size[1]}: both sides must be at least {MIN_IMAGE_SIDE} px "
            "(it would be upscaled to the working size and edited as noise)")


def check_resolution(info: EditingModel, resolution: int) -> None:
    """Refuse a working size (long side `resolution`) above `MAX_RESOLUTION`."""
    if resolution > MAX_RESOLUTION:
        raise ConfigError(
            f"--resolution {resolution} is above the largest working size, {MAX_RESOLUTION} "
            f"px on the long side ({info.name} was made for {info.resolution} px)")


def estimate_memory(info: EditingModel, size: tuple[int, int], element_bytes: int) -> int:
    """Bytes an edit at working `size` = (width, height) needs, weights included, in a
    precision of `element_bytes` (4: float32).

    bytes = element_bytes * (parameters + pixels * elements_per_pixel). The activations
    scale with the pixels: the peak is the VAE decoder at full resolution (about ten live
    tensors of its first block's width: 32 channels tiny, 128 SD1.5) plus the UNet's
    latents (batch 3 for the two guidances, 1/64 of the pixels for SD1.5), i.e.
    elements_per_pixel = 10 * vae_channels + 15 * unet_channels / vae_factor**2. For
    `tiny` that is 440, matching the measured 1.8 KB per pixel in float32 at 512 px
    (peak RSS minus RSS before the call, one step, CPU); SD1.5 gives 1360 (5.4 KB per
    pixel: 1.4 GB at 512x512). Attention is counted as linear in the pixels (PyTorch's
    fused attention); an estimate, not a bound.
    """
    parameters, per_pixel = FOOTPRINTS.get(info.name, SD15_FOOTPRINT)
    width, height = size
    return element_bytes * (parameters + width * height * per_pixel)


def editing_model_info(name_or_path: str) -> EditingModel:
    """Registry entry for a name; a directory or hub id gets the `ip2p` defaults."""
    if name_or_path in EDITING_MODELS:
        return EDITING_MODELS[name_or_path]
    defaults = EDITING_MODELS["ip2p"]
    return EditingModel(
        str(name_or_path),
        str(name_or_path),
        defaults.steps,
        defaults.guidance_scale,
        defaults.image_guidance_scale,
        defaults.resolution,
        defaults.size_multiple,
        description="user-supplied IP2P-layout pipeline (ip2p defaults)",
    )


class EditorWeightsNotFoundError(EditingModelError, WeightsNotFoundError):
    """An editor's weights are nowhere local and cannot be downloaded (offline)."""


#: Built-in editors: seeded random weights, nothing to resolve.
BUILT_IN = ("tiny", "random")


def resolve_editor(name_or_path: str | os.PathLike) -> str | Path:
    """Where `load_editing_pipeline(name_or_path)` takes its weights from, found without
    loading anything: the name of a built-in model; a local pipeline directory (the one
    given, or for a registry name or hub id `$BPM_EDIT_WEIGHTS/<repo-name>/`, a folder
    named after the hub repo, e.g. `$BPM_EDIT_WEIGHTS/instruct-pix2pix/`, then the repo's
    snapshot in the Hugging Face cache); else, online, the hub repo id (downloaded when
    loaded). Offline and nowhere local: `EditorWeightsNotFoundError`; an unknown name or
    a missing or malformed directory: `EditingModelError`."""
    name = str(name_or_path)
    if name in BUILT_IN:
        return name
    if name in EDITING_MODELS or (not Path(name).exists() and not _looks_like_path(name)
                                  and re.fullmatch(r"[\w.-]+/[\w.-]+", name)):
        repo_id = EDITING_MODELS[name].source if name in EDITING_MODELS else name
        return _local_copy(repo_id) or _hub_repo(name, repo_id)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise EditingModelError(
                f"{path} is not a diffusers pipeline directory: model_index.json is missing "
                "(expected the hub layout: model_index.json, unet/, vae/, text_encoder/, "
                "tokenizer/, scheduler/)"
            )
        return path
    if path.exists():
        raise EditingModelError(
            f"{name} is a file; give a pipeline directory (model_index.json, unet/, vae/, ...)"
        )
    if _looks_like_path(name):
        raise EditingModelError(f"editing model directory not found: {name}")
    raise EditingModelError(
        f"unknown editing model {name!r}; choose one of {sorted(EDITING_MODELS)} "
        "or give a local directory laid out like the hub repo (model_index.json, unet/, ...)"
    )


def _local_copy(repo_id: str) -> Path | None:
    """`$BPM_EDIT_WEIGHTS/<repo-name>/`, else the hub cache's snapshot, if complete."""
    root = os.environ.get(WEIGHTS_DIR_ENV)
    if root:
        folder = Path(root).expanduser() / repo_id.split("/")[-1]
        if (folder / "model_index.json").is_file():
            return folder
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, OSError):
        return None
    return folder if (folder / "model_index.json").is_file() else None


def _hub_repo(name: str, repo_id: str) -> str:
    if not offline_mode():
        return repo_id
    root = os.environ.get(WEIGHTS_DIR_ENV) or f"${WEIGHTS_DIR_ENV}"
    folder = Path(root) / repo_id.split("/")[-1]
    raise EditorWeightsNotFoundError(
        f"weights for the editor {name!r} not found: hub repo {repo_id} is not in {folder}/ "
        "(a folder named after the repo under $BPM_EDIT_WEIGHTS) nor in the Hugging Face "
        "cache, and downloads are off (HF_HUB_OFFLINE=1). On a machine with internet run "
        f"`hf download {repo_id} --local-dir DIR`, then copy DIR to {folder}/ or pass "
        "--model DIR."
    )


def metric_variant(info: EditingModel) -> str:
    """The metric weights an enhancement with this editor uses by default: the tiny
    models for the tiny editor (offline smoke runs), the real ones otherwise."""
    return "tiny" if info.name == "tiny" else "default"


def load_editing_pipeline(
    name_or_path: str | os.PathLike,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str | None = None,
    seed: int = 0,
) -> MaskGuidedInstructPix2PixPipeline:
    """Build or load an editing pipeline on `device` in `dtype` (weights found by
    `resolve_editor`).

    `dtype=None` (or "auto") means float16 on CUDA and float32 elsewhere. `seed` only
    affects the built-in `tiny` and `random` weights. Errors say what to do: an unknown
    name, a missing directory or weights not available offline are `EditingModelError`s,
    a device or dtype unusable here (CUDA without a GPU) a `bpm_edit.devices.DeviceError`.
    """
    import torch

    device = resolve_device(device)
    on_cuda = device.type == "cuda"
    torch_dtype = resolve_dtype(dtype, default=torch.float16 if on_cuda else torch.float32)
    source = resolve_editor(name_or_path)
    if source == "tiny":
        pipe = build_tiny_pipeline(seed)
    elif source == "random":
        pipe = build_random_pipeline(seed)
    else:
        loaded = _from_directory(source, torch_dtype) if isinstance(source, Path) \
            else _download(source, torch_dtype)
        pipe = with_registry_scheduler(loaded, editing_model_info(str(name_or_path)))
    if pipe.unet.dtype != torch_dtype:
        pipe = pipe.to(dtype=torch_dtype)
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(leave=False)
    return pipe


def editor_weights_tag(name_or_path: str | os.PathLike) -> str:
    """Which weights `load_editing_pipeline(name_or_path)` loads, for result keys: the
    seed of a built-in model, else `weights_tag` of the local directory `resolve_editor`
    finds (the repo id alone when it is not local yet)."""
    try:
        source = resolve_editor(name_or_path)
    except EditorWeightsNotFoundError:
        source = EDITING_MODELS[str(name_or_path)].source \
            if str(name_or_path) in EDITING_MODELS else str(name_or_path)
    if source in BUILT_IN:
        return f"{source}: built in code, seed 0"
    return weights_tag(source) if isinstance(source, Path) else f"hub:{source}"


def _looks_like_path(name: str) -> bool:
    """True for names that can only be paths (a hub id is exactly "owner/name")."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def _download(repo_id: str, dtype: torch.dtype) -> MaskGuidedInstructPix2PixPipeline:
    """Load from the hub, downloading into its cache (`resolve_editor` found no copy)."""
    from pipelines.mask_guided_ip2p import MaskGuidedInstructPix2PixPipeline

    options = {_dtype_keyword(): dtype, "safety_checker": None, "requires_safety_checker": False}
    try:
        return MaskGuidedInstructPix2PixPipeline.from_pretrained(repo_id, **options)
    except OSError as hub_error:
        lines = str(hub_error).strip().splitlines() or [type(hub_error).__name__]
        raise EditorWeightsNotFoundError(
            f"the weights of {repo_id!r} are not local and the download failed ({lines[0]}). "
            f"On a machine with internet run `hf download {repo_id} --local-dir DIR`, copy "
            f"DIR here and pass --model DIR (or put it at $BPM_EDIT_WEIGHTS/"
            f"{repo_id.split('/')[-1]}/)."
        ) from hub_error


def _from_directory(path: Path, dtype: torch.dtype) -> MaskGuidedInstructPix2PixPipeline:
    from pipelines.mask_guided_ip2p import MaskGuidedInstructPix2PixPipeline

    try:
        pipe = MaskGuidedInstructPix2PixPipeline.from_pretrained(
            path, **{_dtype_keyword(): dtype}, safety_checker=None, requires_safety_checker=False
        )
    except (OSError, ValueError) as err:
        raise EditingModelError(f"cannot load the pipeline in {path}: {err}") from err
    return pipe


def with_registry_scheduler(
    pipe: MaskGuidedInstructPix2PixPipeline, info: EditingModel
) -> MaskGuidedInstructPix2PixPipeline:
    """Set `info.scheduler` (a diffusers scheduler class name) on a loaded pipeline, built
    from the saved scheduler's config (noise schedule kept): the one scheduler rule for
    hub downloads, `$BPM_EDIT_WEIGHTS` / cache copies and directories alike."""
    import diffusers

    scheduler_class = getattr(diffusers, info.scheduler)
    pipe.scheduler = scheduler_class.from_config(pipe.scheduler.config)
    return pipe


# ---------------------------------------------------------------- built-in random weights


def build_tiny_pipeline(seed: int = 0) -> MaskGuidedInstructPix2PixPipeline:
    """A tiny IP2P pipeline (about 1 M parameters) with seeded random weights.

    UNet with 8 input channels (4 noise + 4 image latents), blocks (32, 64), cross-
    attention dim 32; a two-block VAE (scale factor 2, so a 64 px image has 32x32
    latents); a 2-layer CLIP text encoder and a byte-level CLIP tokenizer with a
    hand-written vocabulary. Same seed, same weights.
    """
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel

    tokenizer = _byte_level_tokenizer(merges=_TINY_MERGES)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=32,
            in_channels=8,
            out_channels=4,
            block_out_channels=(32, 64),
            layers_per_block=2,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            block_out_channels=(32, 64),
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
            latent_channels=4,
            sample_size=64,
        )
        text_encoder = CLIPTextModel(
            _text_config(tokenizer, hidden_size=32, layers=2, heads=4, intermediate=37)
        )
    return _assemble(unet, vae, text_encoder, tokenizer)


def build_random_pipeline(seed: int = 0) -> MaskGuidedInstructPix2PixPipeline:
    """The InstructPix2Pix architecture at full SD1.5 size with seeded random weights.

    Configs are SD1.5's (UNet 860 M parameters with 8 input channels, VAE 84 M, CLIP
    ViT-L/14 text encoder 123 M) and the tokenizer is CLIP's real BPE vocabulary (taken
    from open_clip's bundled merges), so timings and memory match the real models.
    """
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel

    tokenizer = _byte_level_tokenizer(merges=_clip_merges())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=64,
            in_channels=8,
            out_channels=4,
            block_out_channels=(320, 640, 1280, 1280),
            layers_per_block=2,
            down_block_types=(
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "DownBlock2D",
            ),
            up_block_types=(
                "UpBlock2D",
                "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D",
            ),
            cross_attention_dim=768,
            attention_head_dim=8,
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=2,
            latent_channels=4,
            sample_size=512,
        )
        text_encoder = CLIPTextModel(
            _text_config(tokenizer, hidden_size=768, layers=12, heads=12, intermediate=3072)
        )
    return _assemble(unet, vae, text_encoder, tokenizer)


def _assemble(unet, vae, text_encoder, tokenizer) -> MaskGuidedInstructPix2PixPipeline:
    from diffusers import EulerAncestralDiscreteScheduler

    from pipelines.mask_guided_ip2p import MaskGuidedInstructPix2PixPipeline

    pipe = MaskGuidedInstructPix2PixPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        unet=unet.eval(),
        scheduler=EulerAncestralDiscreteScheduler(**SD_SCHEDULE),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
    return pipe


def _text_config(
    tokenizer: CLIPTokenizer, *, hidden_size: int, layers: int, heads: int, intermediate: int
) -> CLIPTextConfig:
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=tokenizer.model_max_length,
        projection_dim=hidden_size,
        hidden_act="quick_gelu",
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


#: A handful of merges so the tiny tokenizer joins frequent pairs like CLIP's does.
_TINY_MERGES = [
    ("t", "h"), ("th", "e</w>"), ("a", "n"), ("an", "d</w>"), ("i", "n"), ("in", "g</w>"),
    ("e", "r"), ("o", "n</w>"), ("a", "t</w>"), ("c", "a"), ("ca", "t</w>"),
]


def _byte_alphabet() -> list[str]:
    """CLIP's reversible byte -> printable character map, in CLIP's order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    codes = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for code in codes]


def _clip_merges() -> list[tuple[str, str]]:
    """CLIP's 48894 BPE merges from the file open_clip ships (the 49408-token vocab)."""
    import open_clip

    path = Path(open_clip.__file__).with_name("bpe_simple_vocab_16e6.txt.gz")
    lines = gzip.open(path, "rt", encoding="utf-8").read().split("\n")
    return [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]


def _byte_level_tokenizer(merges: list[tuple[str, str]]) -> CLIPTokenizer:
    """A CLIPTokenizer whose vocabulary is built the way CLIP builds its own."""
    from transformers import CLIPTokenizer

    alphabet = _byte_alphabet()
    tokens = [*alphabet, *(char + "</w>" for char in alphabet), *("".join(m) for m in merges)]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    with tempfile.TemporaryDirectory() as folder:
        vocab_file = Path(folder, "vocab.json")
        merges_file = Path(folder, "merges.txt")
        vocab_file.write_text(json.dumps(vocab), encoding="utf-8")
        merges_file.write_text(
            "#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n", encoding="utf-8"
        )
        return CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=77)
