"""The paper's evaluation tables from a `ScoreSheet`: one JSON report, Markdown and CSV.

`build_report` runs every protocol the data allows (human alignment for each human
aspect present, Spearman/Kendall correlations with the overall score, the GT test when
items carry roles, component alignment, size/position verdicts and the alpha sweep when
BPM components are stored) and returns one JSON-able dict; protocols that cannot run are
listed in `notes` with the reason. `to_markdown` renders it like the paper (rows =
metrics, columns = model pairs + mean); `write_tables` writes tables.md, one CSV per
table and alignment.json.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evaluation.alignment import (
    ALPHAS,
    COMPONENT_ROWS,
    AlignmentError,
    ScoreSheet,
    alignment_table,
    alpha_sweep,
    component_alignment,
    correlations,
    resolve_pairs,
    top_level_metrics,
    verdict_accuracy,
)
from evaluation.ground_truth import gt_test
from evaluation.items import GT_ROLES, HUMAN_ASPECTS

VERDICT_ROWS = (("size", "s_size"), ("position", "s_position"))


def build_report(
    sheet: ScoreSheet,
    pairs: str | Sequence[tuple[str, str]] = "all",
    metrics: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    bpm_metric: str = "bpm",
    component_rows: Sequence[tuple[str, str]] = COMPONENT_ROWS,
    metric_threshold: float = 0.5,
    human_threshold: float = 3.0,
    alphas: Sequence[float] = ALPHAS,
) -> dict[str, Any]:
    """Run every applicable protocol; see the module doc."""
    chosen = list(metrics) if metrics is not None else top_level_metrics(sheet)
    notes: list[str] = []
    aspects = [a for a in HUMAN_ASPECTS if any(a in i.human for i in sheet.items.values())]
    rated = ScoreSheet(items={k: v for k, v in sheet.items.items() if v.human},
                       scores=sheet.scores, components=sheet.components,
                       higher_is_better=sheet.higher_is_better)
    report: dict[str, Any] = {
        "settings": {"pairs": pairs if isinstance(pairs, str) else [list(p) for p in pairs],
                     "n_boot": n_boot, "seed": seed, "bpm_metric": bpm_metric,
                     "metric_threshold": metric_threshold, "human_threshold": human_threshold,
                     "metric_ties": "count as disagreement", "human_ties": "excluded",
                     "gt_ties": "split equally among tied candidates"},
        "dataset": {"items": len(sheet.items), "inputs": len(sheet.by_input()),
                    "models": sheet.models, "rated_models": rated.models, "metrics": chosen,
                    "human_aspects": aspects, "unmatched_records": sheet.unmatched_records,
                    "duplicate_records": sheet.duplicate_records},
        "alignment": {}, "correlations": {}, "components": [], "verdicts": [],
        "alpha_sweep": [], "gt_test": [], "notes": notes,
    }
    resolved: list[tuple[str, str]] = []
    if not aspects:
        notes.append("no human scores: alignment, correlation, component, verdict and alpha "
                      "tables skipped")
    elif len(rated.models) < 2:
        notes.append(f"human-rated items come from {len(rated.models)} editing model(s); "
                     "pairwise alignment needs 2")
    else:
        try:
            resolved = resolve_pairs(rated.models, pairs)
        except AlignmentError as err:
            notes.append(f"alignment skipped: {err}")
    report["pairs"] = [list(p) for p in resolved]
    if resolved:
        for aspect in aspects:
            rows = alignment_table(rated, chosen, aspect, resolved, n_boot, seed)
            report["alignment"][aspect] = [row.to_dict() for row in rows]
        if "overall" in aspects:  # Table 10 / Appendix B.2 correlate with overall scores
            report["correlations"]["overall"] = [correlations(rated, m, "overall", n_boot, seed)
                                                 for m in chosen]
        rows, row_notes = component_alignment(rated, component_rows, resolved, n_boot, seed)
        report["components"] = [row.to_dict() for row in rows]
        notes.extend(row_notes)
    for aspect, component in VERDICT_ROWS:
        name = f"{bpm_metric}.{component}"
        if aspect not in aspects or name not in sheet.higher_is_better:
            notes.append(f"{aspect} verdicts skipped: needs human {aspect} scores and {name}")
            continue
        report["verdicts"].append(verdict_accuracy(rated, name, aspect, metric_threshold,
                                                   human_threshold))
    if resolved and "overall" in aspects:
        try:
            report["alpha_sweep"] = alpha_sweep(rated, bpm_metric, "overall", resolved, alphas)
        except AlignmentError as err:
            notes.append(str(err))
    report["gt_test"] = gt_test(sheet, chosen)
    if not report["gt_test"]:
        notes.append("GT test skipped: no items carry a ground-truth-test role")
    return report


# --------------------------------------------------------------------------- rendering


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ci(ci: Sequence[float] | None) -> str:
    return "-" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _pair_label(pair: dict[str, Any]) -> str:
    return f"{pair['model_a']} vs {pair['model_b']}"


def _alignment_markdown(rows: list[dict[str, Any]], label: str = "Metric") -> str:
    header = [label, *(_pair_label(p) for p in rows[0]["pairs"]), "Mean", "Pooled"]
    table = [[row["metric"], *(_fmt(p["score"]) for p in row["pairs"]), _fmt(row["mean"]),
              _fmt(row["pooled"])] for row in rows]
    text = _markdown_table(header, table)
    if any(row["mean_ci"] for row in rows):
        ci_rows = [[row["metric"], *(_ci(p["ci"]) for p in row["pairs"]), _ci(row["mean_ci"])]
                   for row in rows]
        text += "\n\nBootstrap 95% CI:\n\n" + _markdown_table(header[:-1], ci_rows)
    counts = [[row["metric"], *(f"{p['compared']}/{p['human_ties']}/{p['metric_ties']}"
                                f"/{p['missing']}" for p in row["pairs"])] for row in rows]
    text += ("\n\nCompared / human ties (excluded) / metric ties (disagreements) / missing:\n\n"
             + _markdown_table(header[:-2], counts))
    return text


def to_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown, one section per table."""
    data = report["dataset"]
    parts = [f"# Evaluation tables\n\n{data['items']} items, {data['inputs']} inputs, "
             f"editing models: {', '.join(data['models'])}; metrics: "
             f"{', '.join(data['metrics'])}. Metric ties count as disagreement; human ties "
             "are excluded."]
    for aspect, rows in report["alignment"].items():
        if rows:
            parts.append(f"## Human alignment ({aspect})\n\n" + _alignment_markdown(rows))
    for aspect, rows in report["correlations"].items():
        models = list(rows[0]["per_model"]) if rows else []
        header = ["Metric", "Spearman", "95% CI", "Kendall", "95% CI", "n",
                  *(f"Spearman {m}" for m in models)]
        table = [[r["metric"], _fmt(r["spearman"]), _ci(r["spearman_ci"]), _fmt(r["kendall"]),
                  _ci(r["kendall_ci"]), str(r["n"]),
                  *(_fmt(r["per_model"][m]["spearman"]) for m in models)] for r in rows]
        if table:
            parts.append(f"## Correlation with human {aspect} scores\n\n"
                         + _markdown_table(header, table))
    if report["gt_test"]:
        header = ["Metric", "EP", "EM", "GT", "inputs", "ties", "skipped"]
        order = ("excessively_preserved", "excessively_modified", "ground_truth")
        table = [[r["metric"], *(_fmt(r["shares"][role], 2) for role in order), str(r["inputs"]),
                  str(r["ties"]), str(r["skipped"])] for r in report["gt_test"]]
        parts.append("## Ground-truth test (share of inputs each candidate wins)\n\n"
                     + _markdown_table(header, table))
    if report["components"]:
        rows = [{**r, "metric": f"{r['aspect']}: {r['metric']}"} for r in report["components"]]
        parts.append("## Component alignment\n\n" + _alignment_markdown(rows, "Aspect: metric"))
    if report["verdicts"]:
        models = list(report["verdicts"][0]["per_model"])
        header = ["Component", *models, "All"]
        table = [[v["component"], *(_fmt(v["per_model"][m]["accuracy"], 2) for m in models),
                  _fmt(v["overall"], 2)] for v in report["verdicts"]]
        settings = report["settings"]
        parts.append(f"## Size and position verdict accuracy (metric pass: component >= "
                     f"{settings['metric_threshold']:g}; human pass: score >= "
                     f"{settings['human_threshold']:g})\n\n" + _markdown_table(header, table))
    if report["alpha_sweep"]:
        header = ["alpha", *(f"{r['alpha']:g}" for r in report["alpha_sweep"])]
        table = [["Human alignment (mean)", *(_fmt(r["mean"]) for r in report["alpha_sweep"])]]
        parts.append("## Alpha sweep (BPM = alpha * S_semantic + (1 - alpha) * S_region)\n\n"
                     + _markdown_table(header, table))
    if report["notes"]:
        parts.append("## Notes\n\n" + "\n".join(f"- {note}" for note in report["notes"]))
    return "\n\n".join(parts) + "\n"


def _pair_rows(table: str, rows: list[dict[str, Any]], extra: dict[str, Any] | None = None
               ) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        base = {"table": table, "metric": row["metric"], "aspect": row["aspect"], **(extra or {})}
        for pair in row["pairs"]:
            ci = pair["ci"] or [None, None]
            out.append({**base, "model_a": pair["model_a"], "model_b": pair["model_b"],
                        "score": pair["score"], "ci_low": ci[0], "ci_high": ci[1],
                        "agree": pair["agree"], "compared": pair["compared"],
                        "human_ties": pair["human_ties"], "metric_ties": pair["metric_ties"],
                        "missing": pair["missing"]})
        ci = row.get("mean_ci") or [None, None]
        out.append({**base, "model_a": "mean", "model_b": "", "score": row["mean"],
                    "ci_low": ci[0], "ci_high": ci[1]})
    return out


def csv_tables(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Long-format rows per table name (alignment, correlations, gt_test, components,
    verdicts, alpha_sweep); empty tables are left out."""
    tables: dict[str, list[dict[str, Any]]] = {}
    tables["alignment"] = [r for rows in report["alignment"].values()
                           for r in _pair_rows("alignment", rows)]
    tables["correlations"] = []
    for aspect, rows in report["correlations"].items():
        for r in rows:
            ci_s, ci_k = r["spearman_ci"] or [None, None], r["kendall_ci"] or [None, None]
            tables["correlations"].append({
                "metric": r["metric"], "aspect": aspect, "model": "all", "n": r["n"],
                "spearman": r["spearman"], "spearman_ci_low": ci_s[0],
                "spearman_ci_high": ci_s[1], "kendall": r["kendall"],
                "kendall_ci_low": ci_k[0], "kendall_ci_high": ci_k[1]})
            for model, values in r["per_model"].items():
                tables["correlations"].append({"metric": r["metric"], "aspect": aspect,
                                               "model": model, "n": values["n"],
                                               "spearman": values["spearman"],
                                               "kendall": values["kendall"]})
    tables["gt_test"] = [{"metric": r["metric"], **{role: r["shares"][role] for role in GT_ROLES},
                          "inputs": r["inputs"], "ties": r["ties"], "skipped": r["skipped"]}
                         for r in report["gt_test"]]
    tables["components"] = _pair_rows("components", report["components"])
    tables["verdicts"] = [{"component": v["component"], "aspect": v["aspect"], "model": m,
                           "accuracy": values["accuracy"], "n": values["n"]}
                          for v in report["verdicts"]
                          for m, values in [*v["per_model"].items(),
                                            ("all", {"accuracy": v["overall"], "n": v["n"]})]]
    tables["alpha_sweep"] = [row for r in report["alpha_sweep"]
                             for row in _pair_rows("alpha_sweep", [r], {"alpha": r["alpha"]})]
    return {name: rows for name, rows in tables.items() if rows}


def write_tables(report: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write tables.md, <table>.csv per non-empty table and alignment.json; return paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"markdown": out_dir / "tables.md", "json": out_dir / "alignment.json"}
    written["markdown"].write_text(to_markdown(report), encoding="utf-8")
    written["json"].write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for name, rows in csv_tables(report).items():
        columns = list(dict.fromkeys(key for row in rows for key in row))
        path = out_dir / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        written[name] = path
    return written
