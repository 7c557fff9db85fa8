"""DINO score: cosine of the DINO ViT-S/16 [CLS] embeddings of original and edited image.

The model is `facebook/dino-vits16` through transformers' `ViTModel` (no pooling layer;
the embedding is the final layer-normed [CLS] token, `last_hidden_state[:, 0]`).
Preprocessing follows that checkpoint's image processor: resize to 224x224 (bilinear),
scale to 0..1, normalise with the ImageNet mean and std. Higher is more similar;
identical images give 1.

Variants: "default" (the hub repo through the weight registry: key "dino", flag
--dino-weights, a directory with config.json and the weights), "random" (ViT-S/16 at full
size with seeded random weights) and "tiny" (a 2-layer, 32-wide ViT on 32 px images).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from bpm_edit.errors import ConfigError, WeightsNotFoundError
from bpm_edit.models.weights import WeightSpec, resolve_weights, weights_tag
from evaluation.items import EditItem
from evaluation.metrics.base import MODEL_VARIANTS, MetricOutput, load_pair

DINO_WEIGHTS = WeightSpec(
    model="DINO ViT-S/16 (facebook/dino-vits16, transformers)",
    files=("config.json",),
    key="dino",
    flag="--dino-weights",
    repo_id="facebook/dino-vits16",
    directory=True,
    download_patterns=("*.json", "*.safetensors", "*.bin"),
)
#: Seed of the random-weight variants.
SEED = 2
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: ViT-S/16 as in facebook/dino-vits16's config.
VIT_S16 = dict(
    hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
    image_size=224, patch_size=16, qkv_bias=True, layer_norm_eps=1e-12,
)
TINY_VIT = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    image_size=32, patch_size=8, qkv_bias=True, layer_norm_eps=1e-12,
)


def build_dino(variant: str, weights_dir: Any = None):
    """A `ViTModel` for `variant`; "default" loads `weights_dir` (resolved if None)."""
    import torch
    from transformers import ViTConfig, ViTModel

    if variant not in MODEL_VARIANTS:
        raise ConfigError(f"unknown models variant {variant!r}; choose from {MODEL_VARIANTS}")
    if variant == "default":
        folder = resolve_weights(DINO_WEIGHTS, weights_dir)
        if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
            raise WeightsNotFoundError(
                f"DINO: {folder} has config.json but no weights (*.safetensors or *.bin); "
                f"point {DINO_WEIGHTS.flag} to a complete copy of {DINO_WEIGHTS.repo_id}"
            )
        return ViTModel.from_pretrained(str(folder), add_pooling_layer=False).eval()
    config = ViTConfig(**(TINY_VIT if variant == "tiny" else VIT_S16))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = ViTModel(config, add_pooling_layer=False)
    return model.eval()


class DINOMetric:
    """DINO [CLS] cosine of original and edited image (higher is better)."""

    name = "dino"
    higher_is_better = True

    def __init__(self, model: Any, description: Mapping[str, Any], device: str = "cpu",
                 dtype: Any = None, batch_size: int = 32) -> None:
        import torch

        from bpm_edit.devices import resolve_dtype

        self.device = torch.device(device)
        self.dtype = resolve_dtype(dtype)
        self.model = model.to(self.device, self.dtype).eval()
        self.image_size = int(model.config.image_size)
        self.description = dict(description)
        self.batch_size = batch_size

    @classmethod
    def from_variant(cls, variant: str, device: str = "cpu", dtype: Any = None,
                     weights: Mapping[str, Any] | None = None) -> DINOMetric:
        from bpm_edit.devices import resolve_device, resolve_dtype

        resolve_device(device)
        folder = None
        if variant == "default":
            folder = resolve_weights(DINO_WEIGHTS, (weights or {}).get("dino"))
        model = build_dino(variant, folder)
        description = {
            "model": DINO_WEIGHTS.repo_id if variant != "tiny" else "tiny-vit",
            "variant": variant,
            "dtype": str(resolve_dtype(dtype)).removeprefix("torch."),
            "weights": weights_tag(folder) if folder is not None else f"random:{SEED}",
        }
        return cls(model, description, device, dtype)

    def settings(self) -> dict[str, Any]:
        return {"dino": self.description, "embedding": "cls", "resize": self.image_size}

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """L2-normalised [CLS] embeddings `(N, D)` as float64."""
        import torch

        mean = np.asarray(IMAGENET_MEAN, dtype=np.float32)
        std = np.asarray(IMAGENET_STD, dtype=np.float32)
        size = (self.image_size, self.image_size)
        rows = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                chunk = images[start:start + self.batch_size]
                pixels = np.stack([
                    (np.asarray(im.resize(size, Image.Resampling.BILINEAR), np.float32) / 255.0
                     - mean) / std
                    for im in chunk
                ])
                tensor = torch.from_numpy(pixels).permute(0, 3, 1, 2).to(self.device, self.dtype)
                cls_token = self.model(pixel_values=tensor).last_hidden_state[:, 0]
                rows.append(cls_token.float().cpu().numpy().astype(np.float64))
        features = np.concatenate(rows)
        return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)

    def score_batch(self, items: Sequence[EditItem]) -> list[MetricOutput]:
        pairs = [load_pair(item) for item in items]
        originals = self.embed([p[0] for p in pairs])
        edited = self.embed([p[1] for p in pairs])
        scores = np.sum(originals * edited, axis=1)
        return [MetricOutput(s, {}, p[2]) for s, p in zip(scores, pairs, strict=True)]
