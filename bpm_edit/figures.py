"""Figures (PIL only, no display needed): the panel helpers every figure uses, and the
visual report of one BPM score.

`fit`, `mask_overlay`, `label_font`, `PANEL` and `MARGIN` are shared with the enhancer's
comparison figure (`pipelines.enhancer.render_comparison`).

Report layout: top row = the original with the source (magenta) and reference (blue) boxes, the
edited image with the target boxes (green), both with the shared crop box (yellow), and
the original with the masks tinted (M_origin red, M_edit green, overlap yellow); bottom
row = the two crops CLIP saw and the component scores as bars on [0, 1] (the S_modify
bar is n(S_modify), its label the raw cosine; S_semantic, S_region and BPM are divided
by 2, their maximum). A header gives the spec, BPM and flags.
"""

from __future__ import annotations

import textwrap

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bpm_edit.errors import InputError
from bpm_edit.result import BPMResult

PANEL = 256
MARGIN = 8
HEADER = 64
TITLE = 14  # height of the caption above each panel
TITLES = ("original: source / reference boxes", "edited: target boxes", "masks: M_origin / M_edit",
          "crop of the original (CLIP)", "crop of the edited (CLIP)", "scores")
#: The report's panels are resampled bilinearly (photographs and crops alike).
BILINEAR = Image.Resampling.BILINEAR
COLOURS = {"source": (255, 0, 255), "target": (40, 200, 60), "reference": (60, 110, 240),
           "crop": (250, 210, 0)}


def fit(
    image: Image.Image, resample: Image.Resampling | None = None
) -> tuple[Image.Image, float]:
    """`image` scaled (aspect kept) so its long side is `PANEL`, and the scale used.

    `resample` None: nearest when enlarging (pixels stay visible), Lanczos when shrinking.
    """
    scale = PANEL / max(image.width, image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if resample is None:
        resample = Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS
    return image.resize(size, resample), scale


def mask_overlay(image: Image.Image, mask: np.ndarray) -> Image.Image:
    """`image` tinted half red inside the bool `(H, W)` `mask` and dimmed to 60% outside."""
    pixels = np.asarray(image.convert("RGB"), np.float64)
    tint = np.array([255.0, 0.0, 0.0])
    blended = np.where(mask[..., None], 0.5 * pixels + 0.5 * tint, 0.6 * pixels)
    return Image.fromarray(np.clip(np.rint(blended), 0, 255).astype(np.uint8))


def label_font(size: int = 12) -> ImageFont.ImageFont:
    """Pillow's default font at `size` points (the fixed bitmap font without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _draw_boxes(draw: ImageDraw.ImageDraw, boxes, scale: float, colour, width: int = 2) -> None:
    for box in boxes or []:
        x0, y0, x1, y1 = (float(v) * scale for v in box)
        draw.rectangle([x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)], outline=colour, width=width)


def _boxes(summary: dict | None) -> list:
    return [] if summary is None else summary.get("boxes", [])


def _regions_overlay(original: Image.Image, result: BPMResult) -> Image.Image:
    """The original with M_origin tinted red, M_edit green (overlap yellow)."""
    base = np.asarray(original.convert("RGB"), dtype=np.float64)
    regions = result.localized
    if regions is None or result.spec.is_global:
        return Image.fromarray(base.astype(np.uint8))
    tint = np.zeros_like(base)
    tint[regions.mask_origin] += (255, 0, 0)
    tint[regions.mask_edit] += (0, 255, 0)
    inside = regions.mask_all
    blended = base.copy()
    blended[inside] = 0.45 * base[inside] + 0.55 * np.clip(tint[inside], 0, 255)
    return Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8))


def _bars(result: BPMResult, width: int, height: int) -> Image.Image:
    panel = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(panel)
    font = ImageFont.load_default()
    n_modify = result.normalization.get("n_modify")
    rows = [
        ("S_modify", n_modify, result.s_modify),
        ("S_preserve", result.s_preserve, result.s_preserve),
        ("S_size", result.s_size, result.s_size),
        ("S_position", result.s_position, result.s_position),
        ("S_semantic/2", result.s_semantic / 2, result.s_semantic),
        ("S_region/2", result.s_region / 2, result.s_region),
        ("BPM/2", result.bpm / 2, result.bpm),
    ]
    row_height = (height - 2 * MARGIN) // len(rows)
    label_width = 84
    bar_width = width - label_width - 2 * MARGIN - 50
    for index, (label, fraction, raw) in enumerate(rows):
        y = MARGIN + index * row_height
        draw.text((MARGIN, y + 4), label, fill=(0, 0, 0), font=font)
        x = MARGIN + label_width
        draw.rectangle([x, y + 2, x + bar_width, y + row_height - 4], outline=(160, 160, 160))
        if fraction is None:
            draw.text((x + 4, y + 4), "n/a", fill=(120, 120, 120), font=font)
            continue
        filled = x + round(bar_width * min(1.0, max(0.0, float(fraction))))
        colour = (40, 120, 220) if label.startswith("BPM") else (90, 170, 90)
        draw.rectangle([x, y + 2, filled, y + row_height - 4], fill=colour)
        draw.text((x + bar_width + 4, y + 4), f"{raw:.3f}", fill=(0, 0, 0), font=font)
    return panel


def render_report(original: Image.Image, edited: Image.Image, result: BPMResult) -> Image.Image:
    """The report image; `edited` must be aligned to `original`'s size (the scored pair)."""
    if original.size != edited.size:
        raise InputError(f"render_report: original is {original.size} but edited is "
                         f"{edited.size}; pass the aligned edited image")
    regions = result.regions
    crop_box = regions.get("crop_box")
    left, scale = fit(original.convert("RGB"), BILINEAR)
    right, _ = fit(edited.convert("RGB"), BILINEAR)
    overlay, _ = fit(_regions_overlay(original, result), BILINEAR)
    draw_left, draw_right = ImageDraw.Draw(left), ImageDraw.Draw(right)
    _draw_boxes(draw_left, _boxes(regions.get("source")), scale, COLOURS["source"])
    _draw_boxes(draw_left, _boxes(regions.get("reference")), scale, COLOURS["reference"])
    _draw_boxes(draw_right, _boxes(regions.get("target")), scale, COLOURS["target"])
    if crop_box is not None:
        for draw in (draw_left, draw_right):
            _draw_boxes(draw, [crop_box], scale, COLOURS["crop"], width=1)
    if crop_box is not None and not result.spec.is_global:
        box = tuple(int(round(v)) for v in crop_box)
        crops = [fit(original.crop(box), BILINEAR)[0], fit(edited.crop(box), BILINEAR)[0]]
    else:
        crops = [fit(original, BILINEAR)[0], fit(edited, BILINEAR)[0]]
    cell_w, cell_h = PANEL + MARGIN, TITLE + PANEL + MARGIN
    canvas = Image.new("RGB", (3 * cell_w + MARGIN, HEADER + 2 * cell_h + MARGIN), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    panels = (left, right, overlay, *crops, _bars(result, PANEL, PANEL))
    for index, (panel, title) in enumerate(zip(panels, TITLES, strict=True)):
        x, y = MARGIN + (index % 3) * cell_w, HEADER + (index // 3) * cell_h
        draw.text((x, y), title, fill=(0, 0, 0), font=font)
        canvas.paste(panel, (x, y + TITLE))
    spec = result.spec
    header = (f"BPM {result.bpm:.3f}   {spec.edit_type}: {spec.source_object} -> "
              f"{spec.target_object}   size {spec.size_change}, position {spec.position_change}")
    if spec.instruction:
        header += f'   "{spec.instruction}"'
    lines = textwrap.wrap(header, 120)[:2]
    flags = ", ".join(result.flags) or "none"
    lines += textwrap.wrap(f"flags: {flags}", 120)[:2]
    lines.append("boxes: source magenta, target green, reference blue, crop yellow; "
                 "masks: M_origin red, M_edit green")
    for index, line in enumerate(lines):
        draw.text((MARGIN, MARGIN + 13 * index), line, fill=(0, 0, 0), font=font)
    return canvas
