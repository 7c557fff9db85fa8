"""Open-vocabulary detection: a phrase and an image in, scored boxes out.

`Detector` is the interface the localizer needs. Backends: transformers'
`GroundingDinoForObjectDetection` (default) and `groundingdino-py` with the paper's
original checkpoint (see `bpm_edit.models.grounding_dino_py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

#: The detector backends (`bpm_edit.models.grounding_dino.build_grounding_dino`).
DETECTOR_BACKENDS = ("transformers", "groundingdino-py")


@dataclass(frozen=True)
class Detections:
    """Boxes for one (image, phrase): `(N, 4)` float xyxy in the image's pixels, scores `(N,)`,
    sorted by descending score."""

    boxes: np.ndarray
    scores: np.ndarray


@runtime_checkable
class Detector(Protocol):
    """Finds a phrase in images; one `Detections` per (image, phrase) pair, in order.

    `box_threshold` / `text_threshold` apply to this call only (the localizer passes its
    own, so several localizers can share one detector); None means the detector's own
    defaults.
    """

    def detect(
        self,
        images: Sequence[Image.Image],
        phrases: Sequence[str],
        *,
        box_threshold: float | None = None,
        text_threshold: float | None = None,
    ) -> list[Detections]: ...
