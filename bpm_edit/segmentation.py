"""Box-prompted segmentation (SAM): boxes in one image in, one mask per box out.

`Segmenter` is the interface the localizer needs; `SamSegmenter` (segment-anything)
implements it and caches each image's embedding so many prompts reuse it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image


@runtime_checkable
class Segmenter(Protocol):
    """`segment(image, boxes)` -> `(N, H, W)` bool masks for `(N, 4)` xyxy pixel boxes."""

    def segment(self, image: Image.Image, boxes: np.ndarray) -> np.ndarray: ...


def image_fingerprint(image: Image.Image) -> str:
    """Content hash of a PIL image (mode, size, pixels): equal pictures share cache entries."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{image.mode}:{image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class _Embedding:
    features: object  # torch.Tensor (1, C, h, w)
    input_size: tuple[int, int]  # (H, W) after the longest-side resize
    original_size: tuple[int, int]  # (H, W)


class SamSegmenter:
    """`Segmenter` over a segment-anything `Sam` model, prompted with boxes.

    Follows `SamPredictor`: the image is resized so its longest side is the encoder's
    input size, normalised and padded; boxes are mapped to that frame; the mask decoder
    runs once for all boxes of an image with `multimask_output=False`; masks are
    upsampled to the image's native size and thresholded at `sam.mask_threshold`.
    Image embeddings are kept in an LRU cache of `cache_size` entries keyed by
    `image_fingerprint`, so an image is encoded once however many phrases use it
    (`encoder_calls` counts real encoder runs). `autocast_dtype` (e.g. torch.float16
    on a GPU) runs the model under `torch.autocast`; weights stay as loaded.
    """

    def __init__(self, sam, cache_size: int = 8, autocast_dtype=None) -> None:
        from segment_anything.utils.transforms import ResizeLongestSide

        if cache_size < 1:
            raise ValueError(f"cache_size must be >= 1, got {cache_size}")
        self.sam = sam.eval()
        self.cache_size = cache_size
        self.autocast_dtype = autocast_dtype
        self.transform = ResizeLongestSide(sam.image_encoder.img_size)
        self.encoder_calls = 0
        self._cache: OrderedDict[str, _Embedding] = OrderedDict()

    def segment(self, image: Image.Image, boxes: np.ndarray) -> np.ndarray:
        import torch

        boxes = np.asarray(boxes, dtype=np.float64)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"boxes must be an (N, 4) xyxy array, got shape {boxes.shape}")
        if not np.isfinite(boxes).all():
            raise ValueError("boxes contain NaN or infinite values")
        width, height = image.size
        if len(boxes) == 0:
            return np.zeros((0, height, width), bool)
        embedding = self._embed(image)
        with torch.inference_mode(), self._autocast():
            prompt = self.transform.apply_boxes(boxes, embedding.original_size)
            prompt = torch.as_tensor(prompt, dtype=torch.float32, device=self.sam.device)
            sparse, dense = self.sam.prompt_encoder(points=None, boxes=prompt, masks=None)
            low_res, _ = self.sam.mask_decoder(
                image_embeddings=embedding.features,
                image_pe=self.sam.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=False,
            )
            masks = self.sam.postprocess_masks(
                low_res.float(), embedding.input_size, embedding.original_size
            )
        return (masks[:, 0] > self.sam.mask_threshold).cpu().numpy()

    def cache_clear(self) -> None:
        """Forget every cached image embedding."""
        self._cache.clear()

    def _embed(self, image: Image.Image) -> _Embedding:
        import torch

        key = image_fingerprint(image)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        pixels = self.transform.apply_image(np.asarray(image.convert("RGB")))
        with torch.inference_mode(), self._autocast():
            tensor = torch.as_tensor(pixels, device=self.sam.device).permute(2, 0, 1)[None]
            features = self.sam.image_encoder(self.sam.preprocess(tensor.float()))
        self.encoder_calls += 1
        embedding = _Embedding(features, tuple(pixels.shape[:2]), (image.height, image.width))
        self._cache[key] = embedding
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return embedding

    def _autocast(self):
        import contextlib

        import torch

        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.sam.device.type, dtype=self.autocast_dtype)
