"""CLIP features for the semantic-aware judge.

`ImageTextEncoder` is the interface the judge needs; `OpenClipEncoder` (open_clip,
ViT-L-14 / openai by default, as in the paper) implements it with a text-feature
cache. Tests use small encoders that return chosen vectors.
"""

from __future__ import annotations

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
