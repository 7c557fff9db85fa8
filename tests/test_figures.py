"""The shared figure helpers and the BPM report figure: sizes, resampling and exact pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bpm_edit.figures import (
    BILINEAR,
    HEADER,
    MARGIN,
    PANEL,
    TITLE,
    fit,
    mask_overlay,
    render_report,
)
from bpm_edit.metric import BPM

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")


def gradient(width: int, height: int) -> Image.Image:
    x = np.arange(width, dtype=np.uint8)[None, :, None]
    y = np.arange(height, dtype=np.uint8)[:, None, None]
    return Image.fromarray(np.broadcast_to(np.concatenate(
        [np.broadcast_to(x, (height, width, 1)), np.broadcast_to(y, (height, width, 1)),
         np.full((height, width, 1), 7, np.uint8)], axis=2), (height, width, 3)).copy())


def test_fit_scales_the_long_side_to_the_panel_and_picks_the_resampling():
    small, large = gradient(40, 64), gradient(451, 300)
    up, scale = fit(small)
    assert up.size == (160, PANEL) and scale == PANEL / 64
    assert np.array_equal(np.asarray(up), np.asarray(small.resize((160, 256), Image.NEAREST)))
    down, scale = fit(large)
    assert down.size == (PANEL, 170) and scale == pytest.approx(PANEL / 451)
    assert np.array_equal(np.asarray(down), np.asarray(large.resize((256, 170), Image.LANCZOS)))
    bilinear, _ = fit(large, BILINEAR)
    assert np.array_equal(np.asarray(bilinear),
                          np.asarray(large.resize((256, 170), Image.BILINEAR)))


def test_mask_overlay_tints_inside_and_dims_outside():
    image = Image.new("RGB", (3, 2), (100, 50, 201))
    mask = np.array([[True, False, False], [False, False, True]])
    pixels = np.asarray(mask_overlay(image, mask))
    assert pixels[0, 0].tolist() == [178, 25, 100]  # 0.5 * (100, 50, 201) + 0.5 * (255, 0, 0)
    assert pixels[1, 2].tolist() == [178, 25, 100]
    assert pixels[0, 1].tolist() == [60, 30, 121]  # 0.6 * (100, 50, 201), rounded


def test_render_report_layout_and_panels():
    photo = Image.open(ROOT / "examples" / "chelsea.jpg").convert("RGB")
    edited = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    result = BPM(models="tiny").score(photo, edited, "make it look like winter")
    figure = render_report(photo, edited, result)
    assert figure.size == (3 * (PANEL + MARGIN) + MARGIN, HEADER + 2 * (TITLE + PANEL + MARGIN)
                           + MARGIN)
    # A global edit: the original panel is the fitted original inside the whole-image crop
    # box's 1-pixel outline; the crop panels are the whole fitted images.
    top = HEADER + TITLE
    fitted, _ = fit(photo, BILINEAR)
    panel = figure.crop((MARGIN, top, MARGIN + fitted.width, top + fitted.height))
    assert np.array_equal(np.asarray(panel)[2:-2, 2:-2], np.asarray(fitted)[2:-2, 2:-2])
    assert np.asarray(panel)[0, 0].tolist() == [250, 210, 0]
    crop_top = top + TITLE + PANEL + MARGIN
    crop = figure.crop((MARGIN, crop_top, MARGIN + fitted.width, crop_top + fitted.height))
    assert np.array_equal(np.asarray(crop), np.asarray(fitted))
