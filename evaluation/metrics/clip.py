"""CLIP baselines: `clip-i` (original vs edited image), `clip-t` (edited image vs the
instruction, CLIPScore as a raw cosine) and `clip-t+i` (their sum), all higher is better.

The three share one `ClipFeatures` (one CLIP, one image-feature cache per run), built by
`load_clip_features` through the metric's own CLIP loader
(`bpm_edit.models.clip.load_clip_encoder`), so `clip-t` and BPM's S_modify see one CLIP.
CLIP-T and its direction come from `bpm_edit.scores` (`clip_t`, `SCORES`), the function
the enhancer calls too; CLIP-I is the same float64 cosine (`cosine_rows`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bpm_edit.scores import SCORES, clip_t, cosine_rows
from evaluation.items import EditItem
from evaluation.metrics.base import MetricOutput, load_pair


class ClipFeatures:
    """CLIP image/text features shared by clip-i, clip-t and clip-t+i.

    Wraps an `ImageTextEncoder` (normalised rows) and keeps an LRU of image features by
    file identity and size, so three CLIP metrics on one batch encode each image once.
    The edited image is encoded after alignment to the original's size, so both go
    through CLIP's resize and centre crop with the same framing.
    `description` names the model for the result keys.
    """

    def __init__(self, encoder: Any, description: Mapping[str, Any], max_images: int = 256):
        self.encoder = encoder
        self.description = dict(description)
        self.max_images = max_images
        self._features: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def images(self, paths: Sequence[str], pil: Sequence[Image.Image]) -> np.ndarray:
        """Features of the images `pil` read from `paths` (the cache key with their size)."""
        keys = [(*_file_identity(path), image.size) for path, image in zip(paths, pil,
                                                                            strict=True)]
        todo = [i for i, key in enumerate(keys) if key not in self._features]
        unique: dict[tuple, int] = {}
        for i in todo:
            unique.setdefault(keys[i], i)
        if unique:
            encoded = self.encoder.encode_images([pil[i] for i in unique.values()])
            for key, row in zip(unique, encoded, strict=True):
                self._features[key] = np.asarray(row, dtype=np.float64)
        rows = []
        for key in keys:
            self._features.move_to_end(key)
            rows.append(self._features[key])
        while len(self._features) > self.max_images:
            self._features.popitem(last=False)
        return np.stack(rows)

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.encoder.encode_texts(list(texts)), dtype=np.float64)


def _file_identity(path: str) -> tuple[str, int, int]:
    resolved = Path(path)
    stat = resolved.stat()
    return (str(resolved.resolve()), stat.st_size, stat.st_mtime_ns)


class _CachedEncoder:
    """`ClipFeatures` as the encoder `bpm_edit.scores.clip_t` takes, for images read from
    `paths` (so CLIP-T is the shared computation over this run's feature cache)."""

    def __init__(self, features: ClipFeatures, paths: Sequence[str]) -> None:
        self.features = features
        self.paths = list(paths)

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.features.images(self.paths, images)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self.features.texts(texts)


class _ClipMetric:
    name = ""
    higher_is_better: bool

    def __init__(self, features: ClipFeatures) -> None:
        self.features = features

    def settings(self) -> dict[str, Any]:
        return {"clip": self.features.description, "text": "instruction"}

    def _pairs(self, items: Sequence[EditItem]):
        loaded = [load_pair(item) for item in items]
        flags = [pair[2] for pair in loaded]
        return loaded, flags

    def _clip_i(self, items: Sequence[EditItem], loaded) -> np.ndarray:
        originals = self.features.images([i.original for i in items], [p[0] for p in loaded])
        edited = self.features.images([i.edited for i in items], [p[1] for p in loaded])
        return cosine_rows(originals, edited)

    def _clip_t(self, items: Sequence[EditItem], loaded) -> list[float]:
        encoder = _CachedEncoder(self.features, [item.edited for item in items])
        return clip_t(encoder, [p[1] for p in loaded], [item.instruction for item in items])


class ClipImageMetric(_ClipMetric):
    """CLIP-I: cosine of original and edited image embeddings (higher is better)."""

    name = "clip-i"
    higher_is_better = True

    def settings(self) -> dict[str, Any]:
        return {"clip": self.features.description}

    def score_batch(self, items: Sequence[EditItem]) -> list[MetricOutput]:
        loaded, flags = self._pairs(items)
        scores = self._clip_i(items, loaded)
        return [MetricOutput(s, {}, f) for s, f in zip(scores, flags, strict=True)]


class ClipTextMetric(_ClipMetric):
    """CLIP-T (CLIPScore as raw cosine): edited image vs the instruction text."""

    name = "clip-t"
    higher_is_better = SCORES["clip_t"].higher_is_better

    def score_batch(self, items: Sequence[EditItem]) -> list[MetricOutput]:
        loaded, flags = self._pairs(items)
        scores = self._clip_t(items, loaded)
        return [MetricOutput(s, {}, f) for s, f in zip(scores, flags, strict=True)]


class ClipSumMetric(_ClipMetric):
    """CLIPScore + CLIP-I, the paper's combined baseline (sum of the two cosines)."""

    name = "clip-t+i"
    higher_is_better = True

    def score_batch(self, items: Sequence[EditItem]) -> list[MetricOutput]:
        loaded, flags = self._pairs(items)
        clip_i = self._clip_i(items, loaded)
        clip_t = self._clip_t(items, loaded)
        return [
            MetricOutput(t + i, {"clip_t": t, "clip_i": i}, f)
            for t, i, f in zip(clip_t, clip_i, flags, strict=True)
        ]


def load_clip_features(
    models: str,
    device: str = "cpu",
    dtype: Any = None,
    clip_model: str = "ViT-L-14",
    weights_path: str | Path | None = None,
) -> ClipFeatures:
    """The CLIP of the baselines, built by the metric's own loader
    (`bpm_edit.models.clip.load_clip_encoder`, seed `registry.SEEDS["clip"]`) with the same
    weight resolution (key "clip", flag --clip-weights), so `clip-t` and BPM's S_modify
    see one CLIP."""
    from bpm_edit.devices import resolve_device, resolve_dtype
    from bpm_edit.models.clip import clip_choice, load_clip_encoder
    from bpm_edit.models.registry import SEEDS
    from bpm_edit.models.weights import resolve_weights, weights_tag

    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype)
    choice = None if models == "tiny" else clip_choice(clip_model)
    path = None
    if models == "default":
        path = resolve_weights(choice.weights, weights_path)
        description = {"model": choice.architecture, "tag": choice.tag}
    elif choice is None:
        if weights_path is not None:
            path = Path(weights_path)
        description = {"model": "tiny"}
    else:
        description = {"model": choice.architecture}
    description["weights"] = weights_tag(path) if path is not None else f"random:{SEEDS['clip']}"
    description.update(variant=models, dtype=str(torch_dtype).removeprefix("torch."))
    encoder = load_clip_encoder(choice, path, torch_device, torch_dtype, seed=SEEDS["clip"])
    return ClipFeatures(encoder, description)
