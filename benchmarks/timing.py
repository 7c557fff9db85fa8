"""Stage timing for the benchmark: a clock, and the metric's three models wrapped to
report to it.

Each wrapper implements its model's interface (`Detector`, `Segmenter`,
`ImageTextEncoder`) by forwarding to the wrapped model, and adds the seconds of every
call to a `StageClock` stage: "detection", "sam" (`embed` and `segment`) and "clip".
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from bpm_edit.models.clip import ImageTextEncoder
    from bpm_edit.models.detection import Detections, Detector
    from bpm_edit.models.sam import Segmenter

T = TypeVar("T")


class StageClock:
    """Seconds and calls per stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] += seconds
        self.calls[stage] += 1

    def timed(self, stage: str, function: Callable[..., T]) -> Callable[..., T]:
        def call(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(stage, time.perf_counter() - started)

        return call


class TimedDetector:
    """`detector` (a `Detector`), its `detect` calls timed as "detection"."""

    def __init__(self, detector: Detector, clock: StageClock) -> None:
        self.detector = detector
        self._detect = clock.timed("detection", detector.detect)

    def detect(
        self,
        images: Sequence[Image.Image],
        phrases: Sequence[str],
        *,
        box_threshold: float | None = None,
        text_threshold: float | None = None,
    ) -> list[Detections]:
        return self._detect(
            images, phrases, box_threshold=box_threshold, text_threshold=text_threshold
        )


class TimedSegmenter:
    """`segmenter` (a `Segmenter`, with its `batch_size`), `embed` and `segment` timed
    as "sam"."""

    def __init__(self, segmenter: Segmenter, clock: StageClock) -> None:
        self.segmenter = segmenter
        self.batch_size = segmenter.batch_size
        self._embed = clock.timed("sam", segmenter.embed)
        self._segment = clock.timed("sam", segmenter.segment)

    def embed(self, images: Sequence[Image.Image]) -> None:
        self._embed(images)

    def segment(self, image: Image.Image, boxes: np.ndarray) -> np.ndarray:
        return self._segment(image, boxes)


class TimedEncoder:
    """`encoder` (an `ImageTextEncoder`), both methods timed as "clip"."""

    def __init__(self, encoder: ImageTextEncoder, clock: StageClock) -> None:
        self.encoder = encoder
        self._encode_images = clock.timed("clip", encoder.encode_images)
        self._encode_texts = clock.timed("clip", encoder.encode_texts)

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self._encode_images(images)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode_texts(texts)
