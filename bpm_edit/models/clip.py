"""CLIP features for the semantic-aware judge, and how the open_clip model is built.

`ImageTextEncoder` is the interface the judge needs; `OpenClipEncoder` (open_clip,
ViT-L-14 / openai by default, as in the paper) implements it with a text-feature
cache. Tests use small encoders that return chosen vectors.

Building: `clip_choice("ARCH[/TAG]")` reads an architecture and pretrained tag from
open_clip's tables (with the `WeightSpec` of the tag's hub weights); `build_clip` builds
it untrained (`None`: the tiny CLIP of `TINY_CLIP_CONFIG`); `load_clip_weights` loads a
checkpoint strictly; `load_clip_encoder` does all three and wraps the model, the one way
both the metric (`bpm_edit.models.registry`) and the CLIP baselines get their CLIP.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from bpm_edit.errors import ConfigError, WeightsError
from bpm_edit.models.weights import WEIGHT_KEYS, WeightSpec


@runtime_checkable
class ImageTextEncoder(Protocol):
    """Maps images and texts into one embedding space.

    Both methods return float32 arrays of shape `(N, D)` whose rows are L2-normalised.
    """

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...


class OpenClipEncoder:
    """`ImageTextEncoder` over an open_clip model.

    `preprocess` is open_clip's eval transform (PIL -> tensor) and `tokenizer` its
    tokenizer (texts -> token tensor). Images are encoded in batches of `batch_size`;
    text features are kept in an LRU cache keyed by the exact text (up to
    `text_cache_size` entries), so a phrase shared by many samples is encoded once.
    `text_cache_info()` reports hits and misses. Features are computed under
    `torch.inference_mode` in `dtype` and returned as L2-normalised float32.
    """

    def __init__(
        self,
        model,
        preprocess,
        tokenizer,
        device: str = "cpu",
        dtype=None,
        batch_size: int = 32,
        text_cache_size: int = 4096,
    ) -> None:
        import torch

        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.dtype = dtype if dtype is not None else next(model.parameters()).dtype
        self.batch_size = batch_size
        self.text_cache_size = text_cache_size
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._hits = 0
        self._misses = 0

    @property
    def dim(self) -> int:
        """Embedding size D."""
        return int(self.model.visual.output_dim)

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        import torch

        for i, image in enumerate(images):
            if not isinstance(image, Image.Image):
                raise TypeError(
                    f"encode_images: item {i} is {type(image).__name__}, not a PIL image"
                )
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                chunk = images[start : start + self.batch_size]
                batch = [self.preprocess(image.convert("RGB")) for image in chunk]
                pixels = torch.stack(batch).to(self.device, self.dtype)
                chunks.append(self._normalise(self.model.encode_image(pixels)))
        return np.concatenate(chunks) if chunks else np.zeros((0, self.dim), np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"encode_texts: item {i} is {type(text).__name__}, not a string")
        missing = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
        self._misses += len(missing)
        self._hits += len(texts) - len(missing)
        fresh: dict[str, np.ndarray] = {}
        with torch.inference_mode():
            for start in range(0, len(missing), self.batch_size):
                batch = missing[start:start + self.batch_size]
                tokens = self.tokenizer(batch).to(self.device)
                features = self._normalise(self.model.encode_text(tokens))
                fresh.update(zip(batch, features, strict=True))
        rows = [fresh[t] if t in fresh else self._text_cache[t] for t in texts]
        for text in texts:
            self._remember(text, fresh.get(text, self._text_cache.get(text)))
        return np.stack(rows) if rows else np.zeros((0, self.dim), np.float32)

    def text_cache_info(self) -> dict[str, int]:
        """`{"hits", "misses", "size"}`: texts served from the cache, texts encoded, cached."""
        return {"hits": self._hits, "misses": self._misses, "size": len(self._text_cache)}

    def _remember(self, text: str, feature: np.ndarray) -> None:
        self._text_cache[text] = feature
        self._text_cache.move_to_end(text)
        while len(self._text_cache) > self.text_cache_size:
            self._text_cache.popitem(last=False)

    @staticmethod
    def _normalise(features) -> np.ndarray:
        features = features.float()
        features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return features.cpu().numpy().astype(np.float32)


# --------------------------------------------------------------------------- building

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
        raise ConfigError(
            f"unknown CLIP architecture {architecture!r}; open_clip has e.g. ViT-L-14, "
            f"ViT-B-32, ViT-B-16, ViT-L-14-336 (all: open_clip.list_models())"
        )
    config = open_clip.get_pretrained_cfg(architecture, tag)
    if not config or not config.get("hf_hub"):
        tags = [
            t for t in open_clip.list_pretrained_tags_by_model(architecture)
            if open_clip.get_pretrained_cfg(architecture, t).get("hf_hub")
        ]  # fmt: skip
        raise ConfigError(
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
        raise WeightsError(
            f"CLIP: weights file {path} does not fit the architecture: {err}"
        ) from err


def load_clip_encoder(
    choice: ClipChoice | None,
    weights: Path | None,
    device,
    dtype,
    *,
    seed: int,
) -> OpenClipEncoder:
    """The `OpenClipEncoder` of `choice` (None: the tiny CLIP) on `device` in `dtype`.

    The model is built under `torch.manual_seed(seed)` without touching the caller's
    random state, then `weights` (a local checkpoint file) is loaded strictly when given.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, preprocess, tokenizer = build_clip(choice)
    if weights is not None:
        load_clip_weights(model, weights)
    model = model.to(device, dtype)
    return OpenClipEncoder(model, preprocess, tokenizer, str(device), dtype)
