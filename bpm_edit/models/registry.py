"""Every model the BPM metric uses, where its weights come from, and how to build it.

`load_metric_models(variant, ...)` returns the three models the localizer and the
semantic judge need (`MetricModels`: detector, segmenter, encoder). Variants:

- ``"default"``: real weights, found by `bpm_edit.models.weights.resolve_weights` (explicit
  path > ``$BPM_EDIT_WEIGHTS`` > hub / URL cache). The paper's models: Grounding DINO
  SwinT-OGC, SAM ``vit_h``, open_clip ``ViT-L-14`` / ``openai``.
- ``"tiny"``: small models with seeded random weights, built in code (tests, offline
  smoke runs; seconds on a CPU). Their outputs are deterministic but meaningless.
- ``"random"``: the selected real architectures at full size with seeded random
  weights: the cost of the real models without their weights (benchmarks).

Local copies are passed as ``weights={"clip": PATH, "sam": PATH, "detector": PATH,
"detector_tokenizer": PATH}`` (CLI: ``--clip-weights`` etc., see `WEIGHT_KEYS`).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bpm_edit.devices import resolve_device, resolve_dtype
from bpm_edit.models.clip import ImageTextEncoder, OpenClipEncoder
from bpm_edit.models.detection import Detector
from bpm_edit.models.sam import SamSegmenter, Segmenter
from bpm_edit.models.weights import WeightsNotFoundError, WeightSpec, resolve_weights

#: Weight variants of every model (see the module docstring).
VARIANTS = ("default", "tiny", "random")
DETECTOR_BACKENDS = ("transformers", "groundingdino-py")
#: Keys of `load_metric_models(weights=...)`, with the CLI flag for each.
WEIGHT_KEYS = {
    "clip": "--clip-weights",
    "sam": "--sam-weights",
    "detector": "--detector-weights",
    "detector_tokenizer": "--detector-tokenizer",
}
#: Seeds of the random-weight variants, one per model, so each is reproducible alone.
SEEDS = {"clip": 0, "sam": 1}

# ---------------------------------------------------------------------------- SAM

_SAM_URL = "https://dl.fbaipublicfiles.com/segment_anything/"


@dataclass(frozen=True)
class SamArchitecture:
    """Sizes of a segment-anything model (encoder ViT, prompt encoder, mask decoder)."""

    encoder_embed_dim: int
    encoder_depth: int
    encoder_num_heads: int
    encoder_global_attn_indexes: tuple[int, ...]
    image_size: int = 1024
    patch_size: int = 16
    window_size: int = 14
    prompt_embed_dim: int = 256
    mask_in_chans: int = 16
    decoder_mlp_dim: int = 2048
    decoder_num_heads: int = 8
    iou_head_hidden_dim: int = 256


def _sam_spec(name: str, file: str) -> WeightSpec:
    return WeightSpec(
        model=f"SAM {name} (segment-anything)",
        files=(file,),
        key="sam",
        flag=WEIGHT_KEYS["sam"],
        url=_SAM_URL + file,
    )


#: name -> (architecture, weights); sizes as segment-anything's `build_sam.py`.
SAM_MODELS: dict[str, tuple[SamArchitecture, WeightSpec]] = {
    "vit_h": (
        SamArchitecture(1280, 32, 16, (7, 15, 23, 31)),
        _sam_spec("vit_h", "sam_vit_h_4b8939.pth"),
    ),
    "vit_l": (
        SamArchitecture(1024, 24, 16, (5, 11, 17, 23)),
        _sam_spec("vit_l", "sam_vit_l_0b3195.pth"),
    ),
    "vit_b": (
        SamArchitecture(768, 12, 12, (2, 5, 8, 11)),
        _sam_spec("vit_b", "sam_vit_b_01ec64.pth"),
    ),
}
#: A SAM small enough for tests: 64 px input, 2 encoder blocks, 32-dim prompts.
TINY_SAM = SamArchitecture(
    encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2, encoder_global_attn_indexes=(1,),
    image_size=64, patch_size=8, window_size=4, prompt_embed_dim=32, mask_in_chans=4,
    decoder_mlp_dim=64, decoder_num_heads=2, iou_head_hidden_dim=32,
)  # fmt: skip


def build_sam(architecture: SamArchitecture):
    """An untrained `segment_anything.modeling.Sam` of the given sizes, in eval mode."""
    import torch
    from segment_anything.modeling import (
        ImageEncoderViT,
        MaskDecoder,
        PromptEncoder,
        Sam,
        TwoWayTransformer,
    )

    a = architecture
    grid = a.image_size // a.patch_size
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=a.encoder_depth, embed_dim=a.encoder_embed_dim, img_size=a.image_size,
            mlp_ratio=4, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=a.encoder_num_heads, patch_size=a.patch_size, qkv_bias=True,
            use_rel_pos=True, global_attn_indexes=a.encoder_global_attn_indexes,
            window_size=a.window_size, out_chans=a.prompt_embed_dim,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=a.prompt_embed_dim, image_embedding_size=(grid, grid),
            input_image_size=(a.image_size, a.image_size), mask_in_chans=a.mask_in_chans,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=2, embedding_dim=a.prompt_embed_dim, mlp_dim=a.decoder_mlp_dim,
                num_heads=a.decoder_num_heads,
            ),
            transformer_dim=a.prompt_embed_dim, iou_head_depth=3,
            iou_head_hidden_dim=a.iou_head_hidden_dim,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )  # fmt: skip
    return sam.eval()


def load_state_dict_file(module, path: Path, model: str) -> None:
    """Load a `torch.save`d state dict (optionally under "state_dict"/"model") strictly.

    Key or shape mismatches are one error naming the file and the model, since they
    mean the file belongs to another architecture.
    """
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise RuntimeError(f"{model}: cannot read weights file {path}: {err}") from err
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise RuntimeError(f"{model}: {path} does not hold a state dict ({type(state).__name__})")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise RuntimeError(
            f"{model}: weights file {path} does not fit the architecture: {err}"
        ) from err


# --------------------------------------------------------------------------- CLIP

DEFAULT_CLIP_TAG = "openai"
_OPEN_CLIP_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")

#: A CLIP small enough for tests: 32 px images, 2-layer towers, 32-dim embeddings,
#: open_clip's bundled BPE tokenizer (vocabulary 49408, context 77).
TINY_CLIP_CONFIG: dict[str, Any] = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 32, "layers": 2, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


@dataclass(frozen=True)
class ClipChoice:
    """An open_clip architecture and pretrained tag, with the tag's weights and settings."""

    architecture: str
    tag: str
    weights: WeightSpec
    quick_gelu: bool
    preprocess: dict = field(default_factory=dict)


def clip_choice(name: str) -> ClipChoice:
    """Parse ``"ARCH"`` (tag ``openai``) or ``"ARCH/TAG"`` against open_clip's tables.

    Only tags whose weights open_clip publishes on the Hugging Face hub are accepted.
    """
    import open_clip

    architecture, _, tag = name.partition("/")
    tag = tag or DEFAULT_CLIP_TAG
    if architecture not in open_clip.list_models():
        raise ValueError(
            f"unknown CLIP architecture {architecture!r}; open_clip has e.g. ViT-L-14, "
            f"ViT-B-32, ViT-B-16, ViT-L-14-336 (all: open_clip.list_models())"
        )
    config = open_clip.get_pretrained_cfg(architecture, tag)
    if not config or not config.get("hf_hub"):
        tags = [
            t for t in open_clip.list_pretrained_tags_by_model(architecture)
            if open_clip.get_pretrained_cfg(architecture, t).get("hf_hub")
        ]  # fmt: skip
        raise ValueError(
            f"CLIP {architecture!r} has no pretrained tag {tag!r} on the hub; tags: {tags}"
        )
    repo_id, file = config["hf_hub"].rstrip("/"), ""
    if not config["hf_hub"].endswith("/"):
        repo_id, file = config["hf_hub"].rsplit("/", 1)
    weights = WeightSpec(
        model=f"CLIP {architecture} / {tag} (open_clip)",
        files=(file,) if file else _OPEN_CLIP_FILES,
        key="clip",
        flag=WEIGHT_KEYS["clip"],
        repo_id=repo_id,
    )
    preprocess = {
        k: config[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in config
    }
    return ClipChoice(architecture, tag, weights, bool(config.get("quick_gelu")), preprocess)


def build_clip(choice: ClipChoice | None):
    """`(model, preprocess, tokenizer)` with untrained weights; `None` = the tiny CLIP."""
    import open_clip

    if choice is None:
        model = open_clip.CLIP(**TINY_CLIP_CONFIG)
        size = TINY_CLIP_CONFIG["vision_cfg"]["image_size"]
        preprocess = open_clip.image_transform(size, is_train=False)
        tokenizer = open_clip.SimpleTokenizer(
            context_length=TINY_CLIP_CONFIG["text_cfg"]["context_length"]
        )
        return model.eval(), preprocess, tokenizer
    with _without_random_init_warning():
        model, _, preprocess = open_clip.create_model_and_transforms(
            choice.architecture,
            pretrained=None,
            force_quick_gelu=choice.quick_gelu,
            image_mean=choice.preprocess.get("mean"),
            image_std=choice.preprocess.get("std"),
            image_interpolation=choice.preprocess.get("interpolation"),
            image_resize_mode=choice.preprocess.get("resize_mode"),
            pretrained_text=False,
        )
    return model.eval(), preprocess, open_clip.get_tokenizer(choice.architecture)


class _DropRandomInitWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Model initialized randomly" not in record.getMessage()


@contextmanager
def _without_random_init_warning():
    """Hide open_clip's "no pretrained weights ... initialized randomly" warning: weights
    are loaded right after building (or are random on purpose)."""
    root = logging.getLogger()
    drop = _DropRandomInitWarning()
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


def load_clip_weights(model, path: Path) -> None:
    """Load an open_clip checkpoint (.safetensors / .bin / .pt state dict) strictly."""
    import open_clip

    try:
        open_clip.load_checkpoint(model, str(path), strict=True)
    except Exception as err:
        raise RuntimeError(
            f"CLIP: weights file {path} does not fit the architecture: {err}"
        ) from err


# ----------------------------------------------------------------- Grounding DINO

#: backend -> weights of its "default" variant.
DETECTOR_WEIGHTS = {
    "transformers": WeightSpec(
        model="Grounding DINO SwinT-OGC (transformers)",
        files=("config.json", "model.safetensors", "preprocessor_config.json"),
        key="detector",
        flag=WEIGHT_KEYS["detector"],
        repo_id="IDEA-Research/grounding-dino-tiny",
        directory=True,
        download_patterns=("*.json", "*.txt", "*.safetensors"),
    ),
    "groundingdino-py": WeightSpec(
        model="Grounding DINO SwinT-OGC (groundingdino-py)",
        files=("groundingdino_swint_ogc.pth",),
        key="detector",
        flag=WEIGHT_KEYS["detector"],
        repo_id="ShilongLiu/GroundingDINO",
        flat=True,
    ),
}
#: The text tokenizer the original Grounding DINO checkpoint expects (not inside the .pth).
DETECTOR_TOKENIZER = WeightSpec(
    model="BERT tokenizer for Grounding DINO (groundingdino-py)",
    files=("vocab.txt", "tokenizer_config.json"),
    key="detector_tokenizer",
    flag=WEIGHT_KEYS["detector_tokenizer"],
    repo_id="google-bert/bert-base-uncased",
    directory=True,
    download_patterns=("vocab.txt", "tokenizer_config.json", "tokenizer.json", "config.json"),
)


# ----------------------------------------------------------------------- loading


@dataclass(frozen=True)
class MetricModels:
    """The metric's three models; `names` says which were built (for reports)."""

    detector: Detector
    segmenter: Segmenter
    encoder: ImageTextEncoder
    variant: str = "default"
    names: dict[str, str] = field(default_factory=dict)


def architecture_names(
    variant: str,
    detector_backend: str = "transformers",
    clip_model: str = "ViT-L-14",
    sam_model: str = "vit_h",
) -> dict[str, str]:
    """Which architectures `load_metric_models` builds for these arguments (no building)."""
    _check_choice("variant", variant, VARIANTS)
    _check_choice("detector_backend", detector_backend, DETECTOR_BACKENDS)
    if variant == "tiny":
        return {
            "detector": f"grounding-dino tiny ({detector_backend})",
            "segmenter": "sam tiny",
            "encoder": "open_clip tiny",
        }
    _check_choice("sam_model", sam_model, tuple(SAM_MODELS))
    choice = clip_choice(clip_model)
    clip_name = f"open_clip {choice.architecture}"
    return {
        "detector": f"grounding-dino swint-ogc ({detector_backend})",
        "segmenter": f"sam {sam_model}",
        "encoder": clip_name + (f" / {choice.tag}" if variant == "default" else ""),
    }


def load_metric_models(
    variant: str = "default",
    device: str = "cpu",
    dtype=None,
    *,
    detector_backend: str = "transformers",
    clip_model: str = "ViT-L-14",
    sam_model: str = "vit_h",
    weights: dict[str, str | Path] | None = None,
    detection_size: int | None = None,
    sam_dtype=None,
    sam_batch_size: int = 1,
) -> MetricModels:
    """Build the detector, segmenter and CLIP encoder of the metric.

    `device` is a torch device string; `dtype` (torch dtype or "float16"/"bfloat16"/
    "float32", default float32) is the inference precision: the detector and CLIP are
    cast to it, SAM runs under autocast. `clip_model` is an open_clip architecture,
    optionally with a tag ("ViT-B-32/laion2b_s34b_b79k"); `sam_model` one of
    `SAM_MODELS`. `weights` maps `WEIGHT_KEYS` to local copies ("default" variant; for
    "tiny", "clip"/"sam" files are loaded into the tiny architectures, which is how
    tests exercise the real loading path). The names are ignored by "tiny".

    Speed options (see BENCHMARKS.md; both change the numbers slightly, so check them on
    real weights before relying on them): `detection_size` is the detector's working
    shortest edge (longest edge capped at 1333/800 of it; None keeps 800, or the tiny
    model's size); `sam_dtype` is SAM's autocast precision when it should differ from
    `dtype`, e.g. "bfloat16" on a CPU with avx512_bf16 (SAM ViT-H 38 s -> 23 s per image
    on 2 EPYC cores). `sam_batch_size` images go through SAM's encoder per forward when
    many pairs are scored together (more than 1 pays on a GPU only). SAM's encoder always
    runs with fused attention (`bpm_edit.models.sam_encoder`: same numbers, faster).
    """
    import torch

    names = architecture_names(variant, detector_backend, clip_model, sam_model)
    weights = {key: path for key, path in (weights or {}).items() if path is not None}
    unknown = sorted(set(weights) - set(WEIGHT_KEYS))
    if unknown:
        raise ValueError(f"weights has unknown key(s) {unknown}; keys are {sorted(WEIGHT_KEYS)}")
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype)
    sam_precision = torch_dtype if sam_dtype is None else resolve_dtype(sam_dtype)
    if detection_size is not None and (not isinstance(detection_size, int) or detection_size < 1):
        raise ValueError(f"detection_size must be a positive int, got {detection_size!r}")
    if not isinstance(sam_batch_size, int) or sam_batch_size < 1:
        raise ValueError(f"sam_batch_size must be a positive int, got {sam_batch_size!r}")

    sam_architecture, sam_spec = (TINY_SAM, None) if variant == "tiny" else SAM_MODELS[sam_model]
    clip = None if variant == "tiny" else clip_choice(clip_model)
    paths = _weight_paths(variant, detector_backend, sam_spec, clip, weights)

    from bpm_edit.models.grounding_dino import build_grounding_dino

    extra = {"tokenizer": paths["detector_tokenizer"]} if "detector_tokenizer" in paths else {}
    detector = build_grounding_dino(
        detector_backend, variant, paths.get("detector"), str(torch_device), torch_dtype, **extra
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEEDS["sam"])
        sam = build_sam(sam_architecture)
        torch.manual_seed(SEEDS["clip"])
        clip_model_obj, preprocess, tokenizer = build_clip(clip)
    if "sam" in paths:
        load_state_dict_file(sam, paths["sam"], sam_spec.model if sam_spec else "SAM tiny")
    if "clip" in paths:
        load_clip_weights(clip_model_obj, paths["clip"])
    sam = sam.to(torch_device)
    autocast = None if sam_precision == torch.float32 else sam_precision
    segmenter = SamSegmenter(sam, autocast_dtype=autocast, batch_size=sam_batch_size)
    clip_model_obj = clip_model_obj.to(torch_device, torch_dtype)
    encoder = OpenClipEncoder(clip_model_obj, preprocess, tokenizer, str(torch_device), torch_dtype)
    if detection_size is not None:
        longest = max(detection_size, round(detection_size * 1333 / 800))
        detector.detection_size = {"shortest_edge": detection_size, "longest_edge": longest}
    return MetricModels(detector, segmenter, encoder, variant, names)


def _weight_paths(
    variant: str,
    detector_backend: str,
    sam_spec: WeightSpec | None,
    clip: ClipChoice | None,
    weights: dict[str, str | Path],
) -> dict[str, Path]:
    """Local weight paths by `WEIGHT_KEYS` key, all resolved before anything is built.

    "default": every model's weights; the missing ones are reported together in one
    `WeightsNotFoundError`. "tiny": only the files given for "clip"/"sam". "random":
    none (weights given for it are an error, not ignored).
    """
    if variant == "random":
        if weights:
            raise ValueError(
                "variant 'random' uses seeded random weights; weights= applies to 'default' "
                f"(got keys {sorted(weights)})"
            )
        return {}
    if variant == "tiny":
        extra = sorted(set(weights) - {"clip", "sam"})
        if extra:
            raise ValueError(
                f"variant 'tiny' accepts weights for 'clip' and 'sam' only, got {extra}"
            )
        paths = {key: Path(path).expanduser() for key, path in weights.items()}
        for key, path in paths.items():
            if not path.is_file():
                raise WeightsNotFoundError(f"tiny {key} weights: file not found: {path}")
        return paths
    specs = {"detector": DETECTOR_WEIGHTS[detector_backend], "sam": sam_spec, "clip": clip.weights}
    if detector_backend == "groundingdino-py":
        specs["detector_tokenizer"] = DETECTOR_TOKENIZER
    paths, missing = {}, []
    for key, spec in specs.items():
        try:
            paths[key] = resolve_weights(spec, weights.get(key))
        except WeightsNotFoundError as err:
            missing.append(str(err))
    if missing:
        raise WeightsNotFoundError("\n".join(missing))
    return paths


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choices: {list(choices)}")
