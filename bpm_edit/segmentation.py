"""Box-prompted segmentation (SAM): boxes in one image in, one mask per box out.

`Segmenter` is the interface the localizer needs; `SamSegmenter` (segment-anything)
implements it and caches each image's embedding so many prompts reuse it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image


@runtime_checkable
class Segmenter(Protocol):
    """`segment(image, boxes)` -> `(N, H, W)` bool masks for `(N, 4)` xyxy pixel boxes."""

    def segment(self, image: Image.Image, boxes: np.ndarray) -> np.ndarray: ...
