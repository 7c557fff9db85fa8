"""CLIP features for the semantic-aware judge.

`ImageTextEncoder` is the interface the judge needs; `OpenClipEncoder` (open_clip,
ViT-L-14 / openai by default, as in the paper) implements it with a text-feature
cache. Tests use small encoders that return chosen vectors.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image


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
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
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
