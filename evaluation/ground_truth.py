"""The ground-truth test (paper Sec. 4.1-4.2, Table 4).

For each input there are three candidates, marked by `EditItem.role`: the well-edited
image ("ground_truth"), an excessively modified one ("excessively_modified", e.g. a
text-to-image model's output for the instruction, supplied by the user) and an
excessively preserved one ("excessively_preserved", the original plus Gaussian noise,
made by `make_excessively_preserved`). A metric "favours" the candidate it scores highest
(after orienting lower-is-better metrics); the share of inputs each role wins is
reported, and the shares sum to 1.

Ties: when k candidates share the top score, each gets 1/k of that input's win (so the
shares still sum to 1) and the input is counted in `ties`. Inputs where a candidate has no
score (missing or NaN) or a role is absent are skipped and counted in `skipped`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bpm_edit.errors import ConfigError, InputError
from bpm_edit.images import read_image_file
from evaluation.alignment import AlignmentError, ScoreSheet, top_level_metrics
from evaluation.items import GT_ROLES, EditItem

#: Default noise level of the excessively preserved candidate, in 0..255 pixel units.
DEFAULT_NOISE_SIGMA = 25.0


def make_excessively_preserved(
    original: str | Path | Image.Image,
    out_path: str | Path,
    sigma: float = DEFAULT_NOISE_SIGMA,
    seed: int = 0,
) -> Path:
    """Write original + N(0, sigma^2) noise as a PNG and return its path.

    `sigma` is in 0..255 pixel units (per channel, independent per pixel); the sum is
    computed in float64, rounded and clipped to 0..255. The same `seed` gives the same
    image. The original is read as RGB and never modified.
    """
    if not sigma >= 0:
        raise ConfigError(f"sigma must be >= 0 (0..255 pixel units), got {sigma}")
    if isinstance(original, Image.Image):
        image = original.convert("RGB")
    else:
        image = read_image_file(original, "original").convert("RGB")
    pixels = np.asarray(image, dtype=np.float64)
    noise = np.random.default_rng(seed).normal(0.0, sigma, size=pixels.shape)
    noisy = np.clip(np.rint(pixels + noise), 0, 255).astype(np.uint8)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(noisy).save(out_path, format="PNG")
    return out_path


def gt_triplet_items(
    ground_truth: EditItem,
    excessively_modified: str | Path,
    noise_dir: str | Path,
    sigma: float = DEFAULT_NOISE_SIGMA,
    seed: int = 0,
) -> list[EditItem]:
    """The three GT-test candidates for one input: the well-edited `ground_truth` item,
    the user-supplied excessively modified image and a generated noisy original
    (`noise_dir/<input_id>.png`, seeded by `seed`)."""
    if not Path(excessively_modified).is_file():
        raise InputError(f"excessively modified image not found: {excessively_modified}")
    safe_id = "".join(c if c.isalnum() or c in "-_." else "_" for c in ground_truth.input_id)
    noisy = make_excessively_preserved(ground_truth.original, Path(noise_dir) / f"{safe_id}.png",
                                       sigma=sigma, seed=seed)
    base = {**ground_truth.to_dict(), "human": {}}
    return [
        EditItem.from_dict({**ground_truth.to_dict(), "role": "ground_truth",
                            "model": "ground_truth",
                            "item_id": f"{ground_truth.input_id}:ground_truth"}),
        EditItem.from_dict({**base, "role": "excessively_modified",
                            "model": "excessively_modified", "edited": str(excessively_modified),
                            "item_id": f"{ground_truth.input_id}:excessively_modified",
                            "mask_edited": None}),
        EditItem.from_dict({**base, "role": "excessively_preserved",
                            "model": "excessively_preserved", "edited": str(noisy),
                            "item_id": f"{ground_truth.input_id}:excessively_preserved",
                            "mask_edited": ground_truth.mask_original}),
    ]


def gt_shares(sheet: ScoreSheet, metric: str, roles: Sequence[str] = GT_ROLES
              ) -> dict[str, Any]:
    """Share of inputs whose top-scored candidate has each role, for one metric."""
    if metric not in sheet.higher_is_better:
        raise AlignmentError(f"no results for metric {metric!r}; have {sheet.metrics}")
    wins = dict.fromkeys(roles, 0.0)
    counted = ties = skipped = 0
    candidates_by_input: dict[str, dict[str, EditItem]] = {}
    for item in sheet.items.values():
        if item.role in roles:
            candidates_by_input.setdefault(item.input_id, {})[item.role] = item
    for candidates in candidates_by_input.values():
        values = {role: sheet.value(item.item_id, metric) for role, item in candidates.items()}
        if set(values) != set(roles) or any(math.isnan(v) for v in values.values()):
            skipped += 1
            continue
        best = max(values.values())
        winners = [role for role, value in values.items() if value == best]
        ties += len(winners) > 1
        for role in winners:
            wins[role] += 1.0 / len(winners)
        counted += 1
    return {"metric": metric,
            "shares": {role: (wins[role] / counted if counted else None) for role in roles},
            "inputs": counted, "ties": ties, "skipped": skipped}


def gt_test(sheet: ScoreSheet, metrics: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """`gt_shares` for each metric (default: every top-level metric); empty when the
    dataset has no items with GT roles."""
    if not any(item.role for item in sheet.items.values()):
        return []
    chosen = metrics if metrics is not None else top_level_metrics(sheet)
    return [gt_shares(sheet, metric) for metric in chosen]
