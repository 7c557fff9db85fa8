"""Pixel-space baseline: `l2`, the whole-image RMS difference in 0..1 (lower is better),
computed and oriented by `bpm_edit.scores` (the enhancer's L2 is the same function).

Computed in float64 over all pixels and channels of the RGB images after resizing the
edited image to the original's size (bicubic, flag `edited_resized`). Identical images
give 0, black vs white gives 1 (the BPM authors' L2 averages a per-pixel RMS instead; see
`evaluation.metrics`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bpm_edit.scores import SCORES, l2
from evaluation.items import EditItem
from evaluation.metrics.base import MetricOutput, load_pair


class L2Metric:
    """Whole-image RMS difference in 0..1 (lower is better); see the module docstring."""

    name = "l2"
    higher_is_better = SCORES["l2"].higher_is_better

    def settings(self) -> dict[str, Any]:
        return {"scale": "rms_over_pixels_and_channels_0_1", "align": "bicubic_to_original"}

    def score_batch(self, items: Sequence[EditItem]) -> list[MetricOutput]:
        outputs = []
        for item in items:
            original, edited, flags = load_pair(item)
            outputs.append(MetricOutput(l2(original, edited), {}, flags))
        return outputs
