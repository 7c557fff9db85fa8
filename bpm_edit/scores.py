"""The scores this toolkit reports, each declared once with its direction, and the two
plain baselines computed beside BPM (CLIP-T, L2).

`SCORES` is the one declaration of which way each score points: BPM and its components
(`bpm_edit.result.BPMResult`) and the baselines `clip_t` and `l2`. The enhancer labels
and orients its per-round scores by it, and the evaluation metrics `clip-t` and `l2`
take their `higher_is_better` from it, so a direction is never restated.

`clip_t` and `l2` are the only computations of those baselines: the enhancer
(`pipelines.enhancer`) and the evaluation metrics (`evaluation.metrics.clip`, `.pixel`)
both call them, so one image and instruction get the same number from either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from bpm_edit.images import rms_difference
from bpm_edit.models.clip import ImageTextEncoder


@dataclass(frozen=True)
class ScoreInfo:
    """A score's name (a result key), its label in figures and its direction."""

    name: str
    label: str
    higher_is_better: bool


#: Every score by name: BPM, its components, and the baselines CLIP-T and L2.
SCORES: dict[str, ScoreInfo] = {
    info.name: info
    for info in (
        ScoreInfo("bpm", "BPM", True),
        ScoreInfo("s_modify", "S_modify", True),
        ScoreInfo("s_preserve", "S_preserve", True),
        ScoreInfo("s_size", "S_size", True),
        ScoreInfo("s_position", "S_position", True),
        ScoreInfo("s_semantic", "S_semantic", True),
        ScoreInfo("s_region", "S_region", True),
        ScoreInfo("l2", "L2", False),
        ScoreInfo("clip_t", "CLIP-T", True),
    )
}


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two `(N, D)` arrays, re-normalised in float64 (a zero row
    gives 0)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.sum(a * b, axis=1)


def clip_t(
    encoder: ImageTextEncoder, images: Sequence[Image.Image], texts: Sequence[str]
) -> list[float]:
    """CLIP-T of each (edited image, text) pair: the cosine of their CLIP embeddings,
    the raw cosine in [-1, 1] (not Hessel et al.'s rescaled 2.5 * max(cos, 0))."""
    if len(images) != len(texts):
        raise ValueError(f"clip_t needs one text per image, got {len(images)} images and "
                         f"{len(texts)} texts")
    cosines = cosine_rows(encoder.encode_images(list(images)), encoder.encode_texts(list(texts)))
    return [float(value) for value in cosines]


def l2(original: Image.Image, edited: Image.Image) -> float:
    """L2: the RMS difference over all pixels and channels, RGB in 0..1, in float64
    (`bpm_edit.images.rms_difference`; the images must have the same size)."""
    return rms_difference(original, edited)
