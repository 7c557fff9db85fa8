"""Ground-truth test shares by hand, ties, and the excessively preserved generator."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bpm_edit.errors import InputError
from evaluation.alignment import build_sheet
from evaluation.ground_truth import gt_shares, gt_test, gt_triplet_items, make_excessively_preserved
from evaluation.items import EditItem

GT, EM, EP = "ground_truth", "excessively_modified", "excessively_preserved"


def _items_and_records(values: dict[str, dict[str, float | None]], metric: str):
    items, records = [], []
    for input_id, by_role in values.items():
        for role, value in by_role.items():
            items.append(EditItem(item_id=f"{input_id}:{role}", input_id=input_id,
                                  original="o.png", edited=f"{role}.png", instruction="i",
                                  model=role, role=role))
            records.append({"item_id": f"{input_id}:{role}", "model": role, "metric": metric,
                            "score": value, "components": {}, "flags": [], "key": "k"})
    return items, records


VALUES = {
    "in1": {GT: 0.9, EM: 0.5, EP: 0.1},   # GT wins
    "in2": {GT: 0.2, EM: 0.8, EP: 0.3},   # EM wins
    "in3": {GT: 0.7, EM: 0.1, EP: 0.7},   # GT and EP tie: half a win each
    "in4": {GT: 0.5, EM: None, EP: 0.2},  # a missing score: skipped
}


def test_shares_by_hand_with_a_tie_and_a_skip():
    result = gt_shares(build_sheet(*_items_and_records(VALUES, "m")), "m")
    assert result["inputs"] == 3 and result["ties"] == 1 and result["skipped"] == 1
    assert result["shares"] == {GT: pytest.approx(1.5 / 3), EM: pytest.approx(1 / 3),
                                EP: pytest.approx(0.5 / 3)}
    assert sum(result["shares"].values()) == pytest.approx(1.0)


def test_lower_is_better_metric_favours_the_smallest_distance():
    distances = {"in1": {GT: 0.3, EM: 0.6, EP: 0.05}, "in2": {GT: 0.2, EM: 0.7, EP: 0.1}}
    result = gt_shares(build_sheet(*_items_and_records(distances, "l2")), "l2")
    assert result["shares"] == {GT: 0.0, EM: 0.0, EP: 1.0}


def test_gt_test_is_empty_without_roles():
    items = [EditItem("a", "x", "o.png", "e.png", "i", "m")]
    assert gt_test(build_sheet(items, [])) == []


def test_make_excessively_preserved_is_seeded_float_and_clipped(tmp_path):
    pixels = np.zeros((8, 10, 3), dtype=np.uint8)
    pixels[:, :5] = 255  # saturated half: noise must clip at 255, never wrap to small values
    pixels[:, 5:] = 128
    original = tmp_path / "orig.png"
    Image.fromarray(pixels).save(original)
    out = make_excessively_preserved(original, tmp_path / "a.png", sigma=20.0, seed=3)
    again = make_excessively_preserved(original, tmp_path / "b.png", sigma=20.0, seed=3)
    other = make_excessively_preserved(original, tmp_path / "c.png", sigma=20.0, seed=4)
    noisy = np.asarray(Image.open(out))
    expected = np.clip(np.rint(pixels.astype(np.float64)
                               + np.random.default_rng(3).normal(0, 20.0, pixels.shape)), 0, 255)
    assert np.array_equal(noisy, expected.astype(np.uint8))
    assert np.array_equal(noisy, np.asarray(Image.open(again)))
    assert not np.array_equal(noisy, np.asarray(Image.open(other)))
    assert noisy[:, :5].min() > 128  # would be near 0 had 255 + noise wrapped modulo 256
    assert np.array_equal(np.asarray(Image.open(original)), pixels)  # input untouched
    same = make_excessively_preserved(original, tmp_path / "zero.png", sigma=0.0)
    assert np.array_equal(np.asarray(Image.open(same)), pixels)
    with pytest.raises(ValueError, match="sigma"):
        make_excessively_preserved(original, tmp_path / "bad.png", sigma=-1.0)


def test_gt_triplet_items_with_a_user_supplied_excessively_modified_image(tmp_path):
    original = tmp_path / "o.png"
    Image.new("RGB", (6, 6), (10, 20, 30)).save(original)
    well = tmp_path / "gt.png"
    Image.new("RGB", (6, 6), (10, 200, 30)).save(well)
    t2i = tmp_path / "t2i.png"
    Image.new("RGB", (6, 6), (0, 0, 0)).save(t2i)
    item = EditItem("in:model", "in", str(original), str(well), "make it green", "model",
                    human={"overall": 5})
    triplet = gt_triplet_items(item, t2i, tmp_path / "noise", sigma=5.0, seed=1)
    assert [i.role for i in triplet] == [GT, EM, EP]
    assert [i.item_id for i in triplet] == ["in:ground_truth", "in:excessively_modified",
                                            "in:excessively_preserved"]
    assert triplet[1].edited == str(t2i) and triplet[2].edited == str(tmp_path / "noise/in.png")
    assert triplet[0].edited == str(well) and all(i.input_id == "in" for i in triplet)
    with pytest.raises(InputError, match="excessively modified"):
        gt_triplet_items(item, tmp_path / "missing.png", tmp_path / "noise")
