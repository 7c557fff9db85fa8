"""Human-alignment protocols on hand-built data whose answers are computed by hand."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from evaluation.alignment import (
    AlignmentError,
    ScoreSheet,
    alpha_sweep,
    authors_pairs,
    build_sheet,
    component_alignment,
    correlations,
    pairwise_alignment,
    read_results,
    resolve_pairs,
    verdict_accuracy,
)
from evaluation.items import EditItem
from evaluation.tables import build_report, csv_tables, to_markdown, write_tables

ROOT = Path(__file__).resolve().parents[1]


def _item(input_id: str, model: str, **human: float) -> EditItem:
    return EditItem(item_id=f"{input_id}:{model}", input_id=input_id, original="o.png",
                    edited=f"{input_id}_{model}.png", instruction="edit", model=model,
                    human=human)


def _record(input_id: str, model: str, metric: str, score: float | None,
            components: dict | None = None) -> dict:
    return {"item_id": f"{input_id}:{model}", "model": model, "metric": metric, "score": score,
            "components": components or {}, "flags": [], "key": "k"}


# Human overall scores and metric "m" (higher is better) per input and model A, B, C.
HUMAN = {"i1": (5, 3, 1), "i2": (2, 4, 4), "i3": (3, 3, 5), "i4": (1, 5, 2)}
METRIC = {"i1": (0.9, 0.5, 0.5), "i2": (0.1, 0.7, 0.3), "i3": (0.4, 0.2, 0.8),
          "i4": (0.6, 0.3, None)}


def _sheet() -> ScoreSheet:
    items, records = [], []
    for input_id, scores in HUMAN.items():
        for model, human, value in zip("ABC", scores, METRIC[input_id], strict=True):
            items.append(_item(input_id, model, overall=human))
            records.append(_record(input_id, model, "m", value))
            # l2: lower is better, carries the same ranking as m
            records.append(_record(input_id, model, "l2", None if value is None else 1 - value))
    return build_sheet(items, records)


def test_pairwise_alignment_by_hand():
    # (A,B): i1 agree, i2 agree, i3 human tie, i4 disagree          -> 2/3
    # (A,C): i1 agree, i2 agree, i3 agree, i4 C missing             -> 3/3
    # (B,C): i1 metric tie (= disagreement), i2 human tie, i3 agree, i4 missing -> 1/2
    row = pairwise_alignment(_sheet(), "m", n_boot=0)
    by_pair = {(p.model_a, p.model_b): p for p in row.pairs}
    assert list(by_pair) == [("A", "B"), ("A", "C"), ("B", "C")]
    ab, ac, bc = by_pair[("A", "B")], by_pair[("A", "C")], by_pair[("B", "C")]
    assert (ab.agree, ab.compared, ab.human_ties, ab.metric_ties, ab.missing) == (2, 3, 1, 0, 0)
    assert (ac.agree, ac.compared, ac.human_ties, ac.metric_ties, ac.missing) == (3, 3, 0, 0, 1)
    assert (bc.agree, bc.compared, bc.human_ties, bc.metric_ties, bc.missing) == (1, 2, 1, 1, 1)
    assert ab.score == pytest.approx(2 / 3) and ac.score == 1.0 and bc.score == 0.5
    assert row.mean == pytest.approx((2 / 3 + 1 + 0.5) / 3)  # 13/18
    assert row.pooled == pytest.approx(6 / 8)


def test_lower_is_better_metric_is_flipped():
    sheet = _sheet()
    assert sheet.higher_is_better["l2"] is False
    m, l2 = pairwise_alignment(sheet, "m", n_boot=0), pairwise_alignment(sheet, "l2", n_boot=0)
    assert [p.to_dict() for p in l2.pairs] == [p.to_dict() for p in m.pairs]


def test_record_can_declare_direction_and_unmatched_records_are_counted():
    items = [_item("x", "A", overall=2), _item("x", "B", overall=1)]
    records = [{**_record("x", "A", "dist", 0.2), "higher_is_better": False},
               {**_record("x", "B", "dist", 0.9), "higher_is_better": False},
               _record("nope", "A", "dist", 0.1), _record("x", "A", "dist", 0.2)]
    sheet = build_sheet(items, records)
    assert sheet.unmatched_records == 1 and sheet.duplicate_records == 1
    assert pairwise_alignment(sheet, "dist", n_boot=0).mean == 1.0


def test_bootstrap_ci_is_seeded_and_brackets():
    sheet = _sheet()
    first = pairwise_alignment(sheet, "m", n_boot=300, seed=7)
    again = pairwise_alignment(sheet, "m", n_boot=300, seed=7)
    assert first.mean_ci == again.mean_ci
    assert [p.ci for p in first.pairs] == [p.ci for p in again.pairs]
    assert first.pairs[1].ci == (1.0, 1.0)  # (A,C) agrees on every input it compares
    low, high = first.mean_ci
    assert 0.0 <= low <= first.mean <= high <= 1.0


def test_authors_pairs_order_and_errors():
    assert authors_pairs(["m1", "m2", "m3", "m4"]) == [
        ("m1", "m2"), ("m1", "m3"), ("m2", "m3"), ("m4", "m3"), ("m4", "m2"), ("m4", "m1")]
    with pytest.raises(AlignmentError, match="exactly 4"):
        authors_pairs(["a", "b", "c"])
    assert resolve_pairs(["a", "b"], [["b", "a"]]) == [("b", "a")]
    with pytest.raises(AlignmentError, match=r"two models, got \[\('a', 'b', 'c'\)\]"):
        resolve_pairs(["a", "b", "c"], [("a", "b", "c")])
    with pytest.raises(AlignmentError, match="unknown model"):
        resolve_pairs(["a", "b"], [("a", "z")])
    with pytest.raises(AlignmentError, match="no results"):
        pairwise_alignment(_sheet(), "missing-metric")


def test_correlations_by_hand():
    # 8 items, metric x = 1..8, human ranks [2,1,4,3,6,5,8,7]: sum d^2 = 8,
    # Spearman = 1 - 6*8/(8*63) = 0.9047619; Kendall: 4 discordant of 28 -> 20/28.
    items, records = [], []
    for k in range(4):
        for offset, model in ((1, "P"), (2, "Q")):
            x = 2 * k + offset
            human = 2 * k + (2 if model == "P" else 1)
            items.append(_item(f"in{k}", model, overall=human))
            records.append(_record(f"in{k}", model, "m", float(x)))
    result = correlations(build_sheet(items, records), "m", n_boot=200, seed=1)
    assert result["n"] == 8
    assert result["spearman"] == pytest.approx(1 - 48 / 504)
    assert result["kendall"] == pytest.approx(20 / 28)
    # per model: P has x = 1,3,5,7 with human 2,4,6,8 -> perfectly monotone
    assert result["per_model"]["P"]["spearman"] == pytest.approx(1.0)
    assert result["per_model"]["Q"]["kendall"] == pytest.approx(1.0)
    low, high = result["spearman_ci"]
    assert -1.0 <= low <= high <= 1.0
    assert correlations(build_sheet(items, records), "m", n_boot=200, seed=1) == result


def _bpm_sheet() -> ScoreSheet:
    # in1: A sem 0 reg 2, B sem 1 reg 0 -> A > B iff 2(1-a) > a iff a < 2/3
    # in2: A sem 0 reg 1, B sem 1 reg 0 -> A > B iff a < 0.5 (a = 0.5 ties)
    items = [_item(i, m, overall=4 if m == "A" else 2, preservation=5 if m == "A" else 1,
                   size=5 if m == "A" else 1) for i in ("in1", "in2") for m in "AB"]
    parts = {("in1", "A"): (0, 2), ("in1", "B"): (1, 0), ("in2", "A"): (0, 1),
             ("in2", "B"): (1, 0)}
    records = []
    for (i, m), (sem, reg) in parts.items():
        components = {"s_semantic": sem, "s_region": reg, "s_preserve": 0.9 if m == "A" else 0.1,
                      "s_modify": 0.5, "s_size": 1.0 if m == "A" else 0.0, "s_position": None}
        records.append(_record(i, m, "bpm", 0.7 * sem + 0.3 * reg, components))
    return build_sheet(items, records)


def test_alpha_sweep_by_hand():
    rows = alpha_sweep(_bpm_sheet(), "bpm", "overall", "all")
    means = {row["alpha"]: row["mean"] for row in rows}
    assert list(means) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    for alpha in (0.0, 0.1, 0.2, 0.3, 0.4):
        assert means[alpha] == 1.0
    assert means[0.5] == 0.5  # in1 agrees, in2 is a metric tie
    assert means[0.6] == 0.5
    for alpha in (0.7, 0.8, 0.9, 1.0):
        assert means[alpha] == 0.0


def test_alpha_sweep_falls_back_to_the_four_components():
    items = [_item("x", "A", overall=5), _item("x", "B", overall=1)]
    records = [_record("x", "A", "bpm", 1.0, {"s_modify": 0.0, "s_preserve": 0.0,
                                               "s_size": 1.0, "s_position": 1.0}),
               _record("x", "B", "bpm", 1.0, {"s_modify": 1.0, "s_preserve": 0.5,
                                               "s_size": 0.0, "s_position": 0.0})]
    means = {r["alpha"]: r["mean"] for r in alpha_sweep(build_sheet(items, records))}
    # A: 2(1-a), B: 1.5a -> A > B iff a < 4/7
    assert means[0.5] == 1.0 and means[0.6] == 0.0
    with pytest.raises(AlignmentError, match="alpha sweep"):
        alpha_sweep(build_sheet(items, [_record("x", "A", "bpm", 1.0)]))


def test_component_alignment_and_verdicts():
    sheet = _bpm_sheet()
    rows, notes = component_alignment(sheet, pairs="all", n_boot=0)
    assert [(r.aspect, r.metric) for r in rows] == [("preservation", "bpm.s_preserve")]
    assert rows[0].mean == 1.0
    assert any("l2" in n for n in notes) and any("modification" in n for n in notes)
    verdicts = verdict_accuracy(sheet, "bpm.s_size", "size")
    # A: s_size 1 (pass), human 5 (pass) -> match; B: 0 (fail), human 1 (fail) -> match
    assert verdicts["per_model"] == {"A": {"accuracy": 1.0, "n": 2}, "B": {"accuracy": 1.0, "n": 2}}
    strict = verdict_accuracy(sheet, "bpm.s_size", "size", human_threshold=6)
    assert strict["overall"] == 0.5  # no human passes; A's metric pass now mismatches
    with pytest.raises(AlignmentError):
        verdict_accuracy(sheet, "bpm.s_position_missing", "position")


def test_duplicate_model_on_one_input_is_rejected():
    items = [_item("x", "A"), EditItem("other", "x", "o.png", "e.png", "i", "A")]
    with pytest.raises(AlignmentError, match="both model"):
        build_sheet(items, [])


def test_report_tables_and_json(tmp_path):
    sheet = _bpm_sheet()
    report = build_report(sheet, n_boot=50)
    # stored bpm (alpha 0.7): A 0.6 and 0.3 < B 0.7 on both inputs, humans prefer A
    assert report["alignment"]["overall"][0]["mean"] == 0.0
    markdown = to_markdown(report)
    assert "| Metric | A vs B | Mean | Pooled |" in markdown
    assert "## Alpha sweep" in markdown and "GT test skipped" in markdown
    written = write_tables(report, tmp_path / "out")
    assert json.loads(written["json"].read_text())["pairs"] == [["A", "B"]]
    assert set(csv_tables(report)) >= {"alignment", "correlations", "alpha_sweep", "verdicts"}
    assert (tmp_path / "out" / "alignment.csv").read_text().startswith("table,metric,aspect")


def test_read_results_tolerates_a_truncated_last_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(_record("x", "A", "m", 1.0)) + "\n{\"item_id\": \"x", "utf-8")
    assert len(read_results(path)) == 1
    path.write_text("{bad\n" + json.dumps(_record("x", "A", "m", 1.0)) + "\n", "utf-8")
    with pytest.raises(AlignmentError, match="line 1"):
        read_results(path)
    with pytest.raises(AlignmentError, match="results file not found"):
        read_results(tmp_path / "missing.jsonl")


def test_script_end_to_end_on_the_synthetic_set(tmp_path, capsys):
    from evaluation.datasets import load_plain
    from evaluation.synthetic import write_synthetic_dataset

    dataset = write_synthetic_dataset(tmp_path / "syn")
    items = load_plain(dataset).items
    # a stand-in metric: the human overall score of the item (GT items: by role)
    role_score = {"ground_truth": 3.0, "excessively_modified": 1.0, "excessively_preserved": 2.0}
    results = tmp_path / "results.jsonl"
    with results.open("w") as handle:
        for item in items:
            score = item.human.get("overall", role_score.get(item.role or "", math.nan))
            handle.write(json.dumps({"item_id": item.item_id, "model": item.model,
                                     "metric": "oracle", "score": score, "components": {},
                                     "flags": [], "key": item.item_id}) + "\n")
    spec = importlib.util.spec_from_file_location("alignment_script",
                                                  ROOT / "scripts" / "alignment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = module.main(["--results", str(results), "--dataset", str(dataset), "--out",
                        str(tmp_path / "tables"), "--n-boot", "20"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "## Human alignment (overall)" in printed
    report = json.loads((tmp_path / "tables" / "alignment.json").read_text())
    oracle = report["alignment"]["overall"][0]
    assert oracle["metric"] == "oracle" and oracle["mean"] == 1.0  # a metric equal to humans
    assert report["gt_test"][0]["shares"] == {"ground_truth": 1.0, "excessively_modified": 0.0,
                                              "excessively_preserved": 0.0}
    for name in ("tables.md", "alignment.csv", "gt_test.csv"):
        assert (tmp_path / "tables" / name).is_file()
