"""One CLIP-T, one L2 and one declaration of each score's direction (`bpm_edit.scores`):
the enhancer and the evaluation metrics give the identical number for one image and
instruction, and every metric's direction is read from its one declaration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bpm_edit.metric import BPM
from bpm_edit.models.registry import load_metric_models
from bpm_edit.scores import SCORES, ScoreInfo, clip_t, cosine_rows, l2
from evaluation.alignment import build_sheet, pairwise_alignment
from evaluation.items import EditItem
from evaluation.metrics import (
    LOWER_IS_BETTER,
    METRIC_ALIASES,
    METRIC_CHOICES,
    METRIC_CLASSES,
    build_metrics,
    higher_is_better,
)
from evaluation.report import _summary_html
from pipelines import enhancer

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def metric() -> BPM:
    return BPM(models=load_metric_models("tiny"))


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Image.Image, Image.Image, str, str]:
    """A working-size photo and an edited copy, also saved as PNG (lossless)."""
    folder = tmp_path_factory.mktemp("pair")
    photo = Image.open(ROOT / "examples" / "chelsea.jpg").convert("RGB").resize((64, 40))
    array = np.asarray(photo).copy()
    array[8:24, 16:40] = (200, 30, 30)
    edited = Image.fromarray(array)
    photo.save(folder / "original.png")
    edited.save(folder / "edited.png")
    return photo, edited, str(folder / "original.png"), str(folder / "edited.png")


def test_enhancer_and_evaluation_give_the_identical_clip_t_and_l2(metric, pair):
    original, edited, original_path, edited_path = pair
    instruction = "turn the cat into a tiger"
    spec = metric.parse(instruction)
    scores = enhancer._score_round(metric, original, edited, spec, instruction, None).scores

    l2_metric, clip_metric = build_metrics(["l2", "clip-t"], models="tiny")
    item = EditItem(item_id="a", input_id="in", original=original_path, edited=edited_path,
                    instruction=instruction, model="m")
    (from_l2,) = l2_metric.score_batch([item])
    (from_clip,) = clip_metric.score_batch([item])
    assert from_l2.score == scores["l2"] == l2(original, edited)
    # The harness builds its own tiny CLIP, with the same seed as BPM's: the same number.
    assert from_clip.score == scores["clip_t"]
    assert scores["clip_t"] == clip_t(metric.models.encoder, [edited], [instruction])[0]


def test_clip_t_is_the_raw_cosine_batched(metric, pair):
    original, edited, _, _ = pair
    encoder = metric.models.encoder
    texts = ["a tiger", "a red square"]
    values = clip_t(encoder, [original, edited], texts)
    rows = np.asarray(encoder.encode_images([original, edited]), np.float64)
    words = np.asarray(encoder.encode_texts(texts), np.float64)
    assert values == pytest.approx([float(rows[i] @ words[i]) for i in range(2)], abs=1e-6)
    assert all(-1.0 <= value <= 1.0 for value in values)  # not rescaled (no 2.5 * max(cos, 0))
    with pytest.raises(ValueError, match="one text per image"):
        clip_t(encoder, [original], texts)


def test_cosine_rows_in_float64_and_zero_rows_give_zero():
    a = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    b = np.array([[4.0, 3.0], [1.0, 0.0]], np.float32)
    assert cosine_rows(a, b).tolist() == [24 / 25, 0.0]
    assert cosine_rows(a, b).dtype == np.float64


def test_every_metric_declares_its_direction_once():
    assert set(METRIC_CLASSES) == set(METRIC_CHOICES)
    for name, metric_class in METRIC_CLASSES.items():
        assert isinstance(metric_class.higher_is_better, bool), name
        assert metric_class.name == name
        assert higher_is_better(name) is metric_class.higher_is_better
    # The metrics that are also enhancer scores read the same declaration.
    for name, score in (("l2", "l2"), ("clip-t", "clip_t"), ("bpm", "bpm")):
        assert METRIC_CLASSES[name].higher_is_better is SCORES[score].higher_is_better
    assert LOWER_IS_BETTER == {"l2", "lpips"}
    for alias, name in METRIC_ALIASES.items():
        assert higher_is_better(alias.upper()) is higher_is_better(name)
    # Components are oriented by the score they name; BPM's s_* are higher is better.
    assert higher_is_better("bpm.s_preserve") and higher_is_better("s_modify")
    assert higher_is_better("clip-t+i.clip_t") and higher_is_better("clip-t+i.clip_i")
    assert higher_is_better("another-tools-metric")  # undeclared: the protocol's default


def test_a_metric_registered_lower_is_better_is_read_everywhere(monkeypatch):
    class Distance:
        name = "dist"
        higher_is_better = False

    monkeypatch.setitem(METRIC_CLASSES, "dist", Distance)
    assert higher_is_better("dist") is False and higher_is_better("DIST") is False
    items = [EditItem(item_id=f"x:{model}", input_id="x", original="o.png", edited=f"{model}.png",
                      instruction="edit", model=model, human={"overall": human})
             for model, human in (("A", 5), ("B", 1))]
    records = [{"item_id": f"x:{model}", "model": model, "metric": "dist", "score": score,
                "components": {}, "flags": [], "key": "k"}
               for model, score in (("A", 0.1), ("B", 0.9))]
    sheet = build_sheet(items, records)  # no list of names passed
    assert sheet.higher_is_better["dist"] is False
    assert sheet.value("x:A", "dist") == -0.1
    assert pairwise_alignment(sheet, "dist", n_boot=0).mean == 1.0  # small distance wins
    # A record's own direction still wins over the registry.
    declared = [{**record, "higher_is_better": True} for record in records]
    assert build_sheet(items, declared).higher_is_better["dist"] is True
    assert "dist &darr;" in _summary_html(records, ["dist"], ["A", "B"])
    assert "clip-t &uarr;" in _summary_html(records, ["clip-t"], ["A", "B"])


def test_enhancer_labels_and_lower_is_better_come_from_the_declaration(monkeypatch):
    assert enhancer.LOWER_IS_BETTER == ("l2",)
    assert set(enhancer.SCORE_KEYS) <= set(SCORES)
    lines = enhancer._score_lines({"bpm": 0.5, "l2": 0.25, "clip_t": 0.125},
                                  {"bpm": 0.1, "l2": -0.05, "clip_t": None})
    assert lines == ["BPM: 0.5000 (+0.1000)", "S_modify: -", "S_preserve: -",
                     "L2 (lower better): 0.2500 (-0.0500)", "CLIP-T: 0.1250"]
    monkeypatch.setitem(SCORES, "clip_t", ScoreInfo("clip_t", "CLIP-T", False))
    assert "CLIP-T (lower better): 0.1250" in enhancer._score_lines({"clip_t": 0.125}, None)
