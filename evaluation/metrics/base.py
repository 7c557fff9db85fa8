"""What every baseline metric shares: the `EditMetric` protocol, `MetricOutput`,
`FatalMetricError`, and reading an item's images once per batch (`load_pair`, a small
decoded-image cache).

The metric families (`pixel`, `clip`, `lpips`, `dino`, `vlm_judge`, `bpm`) import this
module; the package `evaluation.metrics` names and builds them.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from bpm_edit.errors import EndpointError
from bpm_edit.images import align_pair, load_image
from bpm_edit.models.registry import VARIANTS
from evaluation.items import EditItem

#: Variants of model weights every metric accepts (see the module docstring).
MODEL_VARIANTS = VARIANTS


class FatalMetricError(EndpointError):
    """A failure that will hit every item (an unreachable endpoint): the run stops."""


@dataclass(frozen=True)
class MetricOutput:
    """One metric's verdict on one item.

    `score` is None when the metric cannot say (an unparseable judge answer, a NaN
    component); `flags` then says why. `components` are named sub-scores (None allowed).
    """

    score: float | None
    components: dict[str, float | None] = field(default_factory=dict)
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "score", finite_or_none(self.score))
        object.__setattr__(
            self, "components", {k: finite_or_none(v) for k, v in self.components.items()}
        )
        object.__setattr__(self, "flags", tuple(self.flags))


def finite_or_none(value: float | None) -> float | None:
    """`value` as a float, or None for None / NaN / infinity (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@runtime_checkable
class EditMetric(Protocol):
    """What the batch runner needs from a metric."""

    name: str
    higher_is_better: bool

    def settings(self) -> dict[str, Any]:
        """JSON-serialisable settings that change the scores (part of each result key)."""
        ...

    def score_batch(self, items: Sequence[EditItem]) -> list[MetricOutput]:
        """One output per item, in order. May raise; the runner then retries item by item."""
        ...


# ------------------------------------------------------------------------- image reading


class ImageCache:
    """A small LRU of decoded RGB images keyed by path, size and modification time.

    The runner runs several metrics over one batch; each reads the same files, and this
    keeps the decode to once per batch. A file changed on disk is read again.
    """

    def __init__(self, max_images: int = 32) -> None:
        self.max_images = max_images
        self._images: OrderedDict[tuple[str, int, int], Image.Image] = OrderedDict()
        self._lock = threading.Lock()  # the VLM judge reads images from worker threads

    def get(self, path: str, name: str) -> Image.Image:
        resolved = Path(path)
        try:
            stat = resolved.stat()
        except OSError:
            return load_image(resolved, name)  # raises the clear "file not found" error
        key = (str(resolved.resolve()), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            image = self._images.get(key)
            if image is not None:
                self._images.move_to_end(key)
                return image
        image = load_image(resolved, name)
        with self._lock:
            self._images[key] = image
            while len(self._images) > self.max_images:
                self._images.popitem(last=False)
        return image


_IMAGES = ImageCache()


def load_pair(item: EditItem) -> tuple[Image.Image, Image.Image, tuple[str, ...]]:
    """Original and edited image of `item` as RGB, the edited one resized to the
    original's size when they differ (flag `edited_resized`)."""
    original = _IMAGES.get(item.original, f"item {item.item_id}: original")
    edited = _IMAGES.get(item.edited, f"item {item.item_id}: edited")
    aligned, resized = align_pair(original, edited)
    return original, aligned, ("edited_resized",) if resized else ()


def to_float(image: Image.Image) -> np.ndarray:
    """`(H, W, 3)` float64 array in 0..1."""
    return np.asarray(image, dtype=np.float64) / 255.0

