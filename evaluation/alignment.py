"""Human alignment of metrics (paper Sec. 4.1-4.3, Tables 1, 2, 5, 6, 9, 10, 14).

A `ScoreSheet` joins a dataset's items (with human scores) and a batch run's result
records (one per item and metric). On it:

- `pairwise_alignment`: for each pair of editing models (A, B) and each input both edited,
  compare sign(metric A - metric B) with sign(human A - human B). Inputs where the humans
  tie are excluded (`human_ties`); a metric tie where the humans do not tie counts as a
  DISAGREEMENT (the metric failed to separate what humans separated; `metric_ties`); an
  input where either metric score is missing or NaN is excluded (`missing`). Alignment =
  agree / compared. The mean is over pairs (the paper's "Average" column); `pooled` is
  agree / compared over all pairs together. `missing` also counts inputs that lack one
  of the two models or the human aspect. Bootstrap CIs resample inputs.
- `correlations`: Spearman and Kendall (tau-b) between metric and human scores over all
  items, and per editing model (Table 10), with bootstrap CIs over inputs.
- `component_alignment`: the same pairwise alignment of component scores against the
  matching human aspect (S_preserve and L2 vs preservation, S_modify and CLIPScore vs
  modification; Tables 5, 14).
- `verdict_accuracy`: per editing model, the share of items where the metric's size or
  position verdict (pass iff the component >= `metric_threshold`, default 0.5) equals the
  human verdict (pass iff the human score >= `human_threshold`, default 3 on the paper's
  1-5 scale, i.e. "acceptable" or better) (Table 6).
- `alpha_sweep`: BPM recomputed as alpha * S_semantic + (1 - alpha) * S_region from the
  stored components for alpha = 0, 0.1, ..., 1, and its alignment per alpha (Table 9).

Scores are oriented so that higher is better before comparing: a record's
`"higher_is_better"` if it carries one, else the direction the metric declares
(`evaluation.metrics.higher_is_better`: distances such as `l2` and `lpips` are negated).
Component scores are exposed as metrics named `"<metric>.<component>"` (e.g.
`bpm.s_preserve`), oriented by the same registry (every component today is higher is
better).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from bpm_edit.errors import InputError
from bpm_edit.store import StoreError
from evaluation.items import EditItem
from evaluation.metrics import LOWER_IS_BETTER as LOWER_IS_BETTER  # scripts/alignment.py's default
from evaluation.metrics import higher_is_better
from evaluation.runner import read_records

#: The authors' model pairs for the 4-model local set, by 1-based model index.
AUTHORS_LOCAL_PAIRS = ((1, 2), (1, 3), (2, 3), (4, 3), (4, 2), (4, 1))

ALPHAS = tuple(round(0.1 * step, 1) for step in range(11))


class AlignmentError(InputError):
    """Results and dataset cannot be joined, or a protocol's inputs are missing."""


# --------------------------------------------------------------------------- the sheet


@dataclass
class ScoreSheet:
    """Items, their human scores, and each metric's score and components per item."""

    items: dict[str, EditItem]
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    components: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    unmatched_records: int = 0
    duplicate_records: int = 0

    def __post_init__(self) -> None:
        seen: dict[tuple[str, str], str] = {}
        for item in self.items.values():
            key = (item.input_id, item.model)
            if key in seen:
                raise AlignmentError(
                    f"items {seen[key]!r} and {item.item_id!r} are both model {item.model!r} "
                    f"on input {item.input_id!r}"
                )
            seen[key] = item.item_id

    @property
    def models(self) -> list[str]:
        """Editing models in order of first appearance in the dataset."""
        return list(dict.fromkeys(item.model for item in self.items.values()))

    @property
    def metrics(self) -> list[str]:
        return list(self.higher_is_better)

    def by_input(self) -> dict[str, dict[str, EditItem]]:
        """input_id -> model -> item, inputs in order of first appearance."""
        grouped: dict[str, dict[str, EditItem]] = {}
        for item in self.items.values():
            grouped.setdefault(item.input_id, {})[item.model] = item
        return grouped

    def value(self, item_id: str, metric: str) -> float:
        """The metric's score for the item, oriented so higher is better; NaN if absent."""
        score = self.scores.get(item_id, {}).get(metric, math.nan)
        return score if self.higher_is_better.get(metric, True) else -score

    def with_metric(self, name: str, values: Mapping[str, float], higher_is_better: bool = True
                    ) -> ScoreSheet:
        """A copy with one more metric (item_id -> score); this sheet is unchanged."""
        scores = {item_id: dict(by_metric) for item_id, by_metric in self.scores.items()}
        for item_id, score in values.items():
            scores.setdefault(item_id, {})[name] = float(score)
        return ScoreSheet(items=self.items, scores=scores, components=self.components,
                          higher_is_better={**self.higher_is_better, name: higher_is_better},
                          unmatched_records=self.unmatched_records,
                          duplicate_records=self.duplicate_records)


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The records of a results file (one per item and metric), read as the runner reads
    them (`evaluation.runner.read_records`: a last line cut off by a crash is skipped).
    A missing file or a corrupt line is an `AlignmentError` naming the file (and line)."""
    path = Path(path)
    if not path.is_file():
        raise AlignmentError(f"{path}: results file not found")
    try:
        return read_records(path)
    except StoreError as err:
        raise AlignmentError(str(err)) from err


def _finite(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def build_sheet(
    items: Iterable[EditItem],
    records: Iterable[Mapping[str, Any]],
    lower_is_better: Iterable[str] | None = None,
) -> ScoreSheet:
    """Join items and result records by `item_id`. A later record for the same (item,
    metric) replaces an earlier one (counted in `duplicate_records`); records for items
    not in the dataset are counted in `unmatched_records`. Each numeric component becomes
    a metric `"<metric>.<component>"`.

    A metric's direction is its first record's `"higher_is_better"`, else the declared
    one (`evaluation.metrics.higher_is_better`); `lower_is_better` (names, matched
    case-insensitively) replaces the declared directions of the top-level metrics."""
    lower = None if lower_is_better is None else {name.lower() for name in lower_is_better}

    def declared(metric: str) -> bool:
        return higher_is_better(metric) if lower is None else metric.lower() not in lower

    sheet = ScoreSheet(items={item.item_id: item for item in items})
    seen: set[tuple[str, str]] = set()
    for number, record in enumerate(records, start=1):
        for key in ("item_id", "metric"):
            if not isinstance(record.get(key), str):
                raise AlignmentError(f"result record {number} has no string {key!r}: {record}")
        item_id, metric = record["item_id"], record["metric"]
        if item_id not in sheet.items:
            sheet.unmatched_records += 1
            continue
        if (item_id, metric) in seen:
            sheet.duplicate_records += 1
        seen.add((item_id, metric))
        if metric not in sheet.higher_is_better:
            sheet.higher_is_better[metric] = bool(
                record.get("higher_is_better", declared(metric)))
        sheet.scores.setdefault(item_id, {})[metric] = _finite(record.get("score"))
        components = record.get("components") or {}
        numeric = {name: _finite(value) for name, value in components.items()
                   if isinstance(value, (int, float)) and not isinstance(value, bool)}
        sheet.components.setdefault(item_id, {})[metric] = numeric
        for name, value in numeric.items():
            derived = f"{metric}.{name}"
            sheet.higher_is_better.setdefault(derived, higher_is_better(derived))
            sheet.scores[item_id][derived] = value
    return sheet


# --------------------------------------------------------------------------- model pairs


def all_pairs(models: Sequence[str]) -> list[tuple[str, str]]:
    """Every unordered pair of editing models, in dataset order."""
    return list(itertools.combinations(models, 2))


def authors_pairs(models: Sequence[str]) -> list[tuple[str, str]]:
    """The authors' six pairs for the 4-model local set, models taken in dataset order."""
    if len(models) != 4:
        raise AlignmentError(
            f"the authors' pairs need exactly 4 editing models, the dataset has {len(models)}: "
            f"{list(models)}")
    return [(models[a - 1], models[b - 1]) for a, b in AUTHORS_LOCAL_PAIRS]


def resolve_pairs(models: Sequence[str], pairs: str | Sequence[tuple[str, str]]
                  ) -> list[tuple[str, str]]:
    """`"all"`, `"authors"` or an explicit list of (model A, model B)."""
    if pairs == "all":
        return all_pairs(models)
    if pairs == "authors":
        return authors_pairs(models)
    if isinstance(pairs, str):
        raise AlignmentError(f"pairs must be 'all', 'authors' or a list of pairs, got {pairs!r}")
    malformed = [pair for pair in pairs if isinstance(pair, str) or len(pair) != 2]
    if malformed:
        raise AlignmentError(f"each pair must name two models, got {malformed}")
    unknown = sorted({m for pair in pairs for m in pair} - set(models))
    if unknown:
        raise AlignmentError(f"pairs name unknown model(s) {unknown}; models: {list(models)}")
    return [(a, b) for a, b in pairs]


# --------------------------------------------------------------------------- pairwise


@dataclass(frozen=True)
class PairAlignment:
    """Agreement of one metric with humans on one model pair."""

    model_a: str
    model_b: str
    agree: int
    compared: int
    human_ties: int
    metric_ties: int
    missing: int
    ci: tuple[float, float] | None = None

    @property
    def score(self) -> float | None:
        return self.agree / self.compared if self.compared else None

    def to_dict(self) -> dict[str, Any]:
        return {"model_a": self.model_a, "model_b": self.model_b, "score": self.score,
                "agree": self.agree, "compared": self.compared, "human_ties": self.human_ties,
                "metric_ties": self.metric_ties, "missing": self.missing,
                "ci": list(self.ci) if self.ci else None}


@dataclass(frozen=True)
class AlignmentRow:
    """One metric's alignment with one human aspect over the model pairs."""

    metric: str
    aspect: str
    pairs: list[PairAlignment]
    mean_ci: tuple[float, float] | None = None

    @property
    def mean(self) -> float | None:
        scores = [p.score for p in self.pairs if p.score is not None]
        return sum(scores) / len(scores) if scores else None

    @property
    def pooled(self) -> float | None:
        compared = sum(p.compared for p in self.pairs)
        return sum(p.agree for p in self.pairs) / compared if compared else None

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "aspect": self.aspect, "mean": self.mean,
                "mean_ci": list(self.mean_ci) if self.mean_ci else None,
                "pooled": self.pooled, "pairs": [p.to_dict() for p in self.pairs]}


# outcome codes of one (input, pair)
_AGREE, _DISAGREE, _METRIC_TIE, _HUMAN_TIE, _MISSING = range(5)


def _outcome(sheet: ScoreSheet, metric: str, aspect: str, a: EditItem, b: EditItem) -> int:
    human_a, human_b = a.human.get(aspect), b.human.get(aspect)
    metric_a, metric_b = sheet.value(a.item_id, metric), sheet.value(b.item_id, metric)
    if human_a is None or human_b is None or math.isnan(metric_a) or math.isnan(metric_b):
        return _MISSING
    if human_a == human_b:
        return _HUMAN_TIE
    if metric_a == metric_b:
        return _METRIC_TIE
    return _AGREE if (metric_a > metric_b) == (human_a > human_b) else _DISAGREE


def _outcome_matrix(sheet: ScoreSheet, metric: str, aspect: str,
                    pairs: Sequence[tuple[str, str]]) -> tuple[list[str], np.ndarray]:
    """inputs x pairs outcome codes (_MISSING where an input lacks a model)."""
    grouped = sheet.by_input()
    inputs = list(grouped)
    matrix = np.full((len(inputs), len(pairs)), _MISSING, dtype=np.int8)
    for row, input_id in enumerate(inputs):
        edits = grouped[input_id]
        for column, (model_a, model_b) in enumerate(pairs):
            if model_a in edits and model_b in edits:
                matrix[row, column] = _outcome(sheet, metric, aspect, edits[model_a],
                                               edits[model_b])
    return inputs, matrix


def _pair_from_column(pair: tuple[str, str], column: np.ndarray,
                      ci: tuple[float, float] | None) -> PairAlignment:
    counts = np.bincount(column, minlength=5)
    return PairAlignment(
        model_a=pair[0], model_b=pair[1], agree=int(counts[_AGREE]),
        compared=int(counts[_AGREE] + counts[_DISAGREE] + counts[_METRIC_TIE]),
        human_ties=int(counts[_HUMAN_TIE]), metric_ties=int(counts[_METRIC_TIE]),
        missing=int(counts[_MISSING]), ci=ci)


def _percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return (float(low), float(high))


def pairwise_alignment(
    sheet: ScoreSheet,
    metric: str,
    aspect: str = "overall",
    pairs: str | Sequence[tuple[str, str]] = "all",
    n_boot: int = 1000,
    seed: int = 0,
) -> AlignmentRow:
    """Alignment of `metric` with the human `aspect` per model pair (see module doc).

    With `n_boot` > 0, each pair's score and the mean over pairs get a percentile
    bootstrap 95% CI from `n_boot` resamples of the inputs (numpy generator `seed`)."""
    if metric not in sheet.higher_is_better:
        raise AlignmentError(f"no results for metric {metric!r}; have {sheet.metrics}")
    resolved = resolve_pairs(sheet.models, pairs)
    _, matrix = _outcome_matrix(sheet, metric, aspect, resolved)
    pair_cis: list[tuple[float, float] | None] = [None] * len(resolved)
    mean_ci = None
    if n_boot > 0 and matrix.shape[0] > 0:
        agree = (matrix == _AGREE).astype(np.float64)
        compared = np.isin(matrix, (_AGREE, _DISAGREE, _METRIC_TIE)).astype(np.float64)
        n_inputs = matrix.shape[0]
        weights = np.random.default_rng(seed).multinomial(
            n_inputs, np.full(n_inputs, 1.0 / n_inputs), size=n_boot).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = (weights @ agree) / (weights @ compared)
        pair_cis = [_percentile_ci(boot[:, column]) for column in range(len(resolved))]
        valid = np.isfinite(boot)
        with np.errstate(invalid="ignore"):
            means = np.where(valid.any(axis=1),
                             np.nansum(boot, axis=1) / np.maximum(valid.sum(axis=1), 1), np.nan)
        mean_ci = _percentile_ci(means)
    return AlignmentRow(
        metric=metric, aspect=aspect,
        pairs=[_pair_from_column(pair, matrix[:, column], pair_cis[column])
               for column, pair in enumerate(resolved)],
        mean_ci=mean_ci)


def alignment_table(
    sheet: ScoreSheet,
    metrics: Sequence[str] | None = None,
    aspect: str = "overall",
    pairs: str | Sequence[tuple[str, str]] = "all",
    n_boot: int = 1000,
    seed: int = 0,
) -> list[AlignmentRow]:
    """`pairwise_alignment` for each metric (default: every top-level metric)."""
    chosen = metrics if metrics is not None else top_level_metrics(sheet)
    return [pairwise_alignment(sheet, m, aspect, pairs, n_boot, seed) for m in chosen]


def top_level_metrics(sheet: ScoreSheet) -> list[str]:
    """Metrics as recorded (not the derived `<metric>.<component>` ones)."""
    derived = {f"{m}.{c}" for comps in sheet.components.values() for m, cs in comps.items()
               for c in cs}
    return [m for m in sheet.metrics if m not in derived]


# --------------------------------------------------------------------------- correlation


def _correlation_pair(x: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
    if x.size < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return {"spearman": None, "spearman_p": None, "kendall": None, "kendall_p": None}
    spearman = stats.spearmanr(x, y)
    kendall = stats.kendalltau(x, y)
    return {"spearman": float(spearman.statistic), "spearman_p": float(spearman.pvalue),
            "kendall": float(kendall.statistic), "kendall_p": float(kendall.pvalue)}


def _xy(sheet: ScoreSheet, metric: str, aspect: str, items: Iterable[EditItem]
        ) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(sheet.value(item.item_id, metric), item.human[aspect]) for item in items
             if aspect in item.human]
    pairs = [(x, y) for x, y in pairs if not math.isnan(x)]
    array = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
    return array[:, 0], array[:, 1]


def correlations(
    sheet: ScoreSheet,
    metric: str,
    aspect: str = "overall",
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Spearman and Kendall tau-b between the (oriented) metric and the human aspect,
    over all items and per editing model; bootstrap 95% CIs of the pooled values by
    resampling inputs. Items without the score or the human aspect are left out."""
    x, y = _xy(sheet, metric, aspect, sheet.items.values())
    result: dict[str, Any] = {"metric": metric, "aspect": aspect, "n": int(x.size),
                              **_correlation_pair(x, y)}
    result["per_model"] = {}
    for model in sheet.models:
        mx, my = _xy(sheet, metric, aspect,
                     (i for i in sheet.items.values() if i.model == model))
        result["per_model"][model] = {"n": int(mx.size), **_correlation_pair(mx, my)}
    result["spearman_ci"] = result["kendall_ci"] = None
    if n_boot > 0 and result["spearman"] is not None:
        groups = list(sheet.by_input().values())
        columns = [_xy(sheet, metric, aspect, edits.values()) for edits in groups]
        flat_x = np.concatenate([gx for gx, _ in columns])
        flat_y = np.concatenate([gy for _, gy in columns])
        owner = np.concatenate([np.full(gx.size, g) for g, (gx, _) in enumerate(columns)])
        rng = np.random.default_rng(seed)
        boot_s, boot_k = np.full(n_boot, np.nan), np.full(n_boot, np.nan)
        for b in range(n_boot):
            # resample inputs with replacement; an input drawn k times repeats its items k times
            drawn = np.bincount(rng.integers(0, len(groups), len(groups)), minlength=len(groups))
            repeat = drawn[owner]
            values = _correlation_pair(np.repeat(flat_x, repeat), np.repeat(flat_y, repeat))
            if values["spearman"] is not None:
                boot_s[b], boot_k[b] = values["spearman"], values["kendall"]
        result["spearman_ci"] = _percentile_ci(boot_s)
        result["kendall_ci"] = _percentile_ci(boot_k)
    return result


# --------------------------------------------------------------------------- components

#: Rows of the component table: (human aspect, metric), Tables 5 and 14.
COMPONENT_ROWS = (
    ("preservation", "l2"),
    ("preservation", "bpm.s_preserve"),
    ("modification", "clip-t"),
    ("modification", "bpm.s_modify"),
)


def component_alignment(
    sheet: ScoreSheet,
    rows: Sequence[tuple[str, str]] = COMPONENT_ROWS,
    pairs: str | Sequence[tuple[str, str]] = "all",
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[list[AlignmentRow], list[str]]:
    """Pairwise alignment of each (aspect, metric) row; rows whose metric has no results
    or whose aspect no item carries are skipped and named in the returned notes."""
    aligned, notes = [], []
    aspects = {a for item in sheet.items.values() for a in item.human}
    for aspect, metric in rows:
        if metric not in sheet.higher_is_better:
            notes.append(f"component row ({aspect}, {metric}): no results for {metric}")
        elif aspect not in aspects:
            notes.append(f"component row ({aspect}, {metric}): no human {aspect} scores")
        else:
            aligned.append(pairwise_alignment(sheet, metric, aspect, pairs, n_boot, seed))
    return aligned, notes


def verdict_accuracy(
    sheet: ScoreSheet,
    component: str,
    aspect: str,
    metric_threshold: float = 0.5,
    human_threshold: float = 3.0,
) -> dict[str, Any]:
    """Per editing model, the share of items whose metric verdict (component >=
    `metric_threshold`) equals the human verdict (human score >= `human_threshold`);
    items missing either are left out (Table 6)."""
    if component not in sheet.higher_is_better:
        raise AlignmentError(f"no results for {component!r}; have {sheet.metrics}")
    per_model: dict[str, dict[str, Any]] = {}
    total_match = total = 0
    for model in sheet.models:
        match = count = 0
        for item in sheet.items.values():
            if item.model != model or aspect not in item.human:
                continue
            value = sheet.value(item.item_id, component)
            if math.isnan(value):
                continue
            count += 1
            match += (value >= metric_threshold) == (item.human[aspect] >= human_threshold)
        per_model[model] = {"accuracy": match / count if count else None, "n": count}
        total_match, total = total_match + match, total + count
    return {"component": component, "aspect": aspect, "metric_threshold": metric_threshold,
            "human_threshold": human_threshold, "per_model": per_model,
            "overall": total_match / total if total else None, "n": total}


# --------------------------------------------------------------------------- alpha sweep


def _semantic_region(components: Mapping[str, float]) -> tuple[float, float] | None:
    if "s_semantic" in components and "s_region" in components:
        return components["s_semantic"], components["s_region"]
    needed = ("s_modify", "s_preserve", "s_size", "s_position")
    if all(name in components for name in needed):
        return (components["s_modify"] + components["s_preserve"],
                components["s_size"] + components["s_position"])
    return None


def alpha_sweep(
    sheet: ScoreSheet,
    metric: str = "bpm",
    aspect: str = "overall",
    pairs: str | Sequence[tuple[str, str]] = "all",
    alphas: Sequence[float] = ALPHAS,
) -> list[dict[str, Any]]:
    """Alignment of alpha * S_semantic + (1 - alpha) * S_region for each alpha (Table 9).

    S_semantic and S_region are the stored components `s_semantic`/`s_region` when
    present, else s_modify + s_preserve and s_size + s_position. Items without them (or
    with a NaN among them) get no score for the sweep."""
    parts = {}
    for item_id, by_metric in sheet.components.items():
        found = _semantic_region(by_metric.get(metric, {}))
        if found is not None and not any(math.isnan(v) for v in found):
            parts[item_id] = found
    if not parts:
        raise AlignmentError(
            f"alpha sweep: no {metric!r} record has components s_semantic/s_region or "
            "s_modify/s_preserve/s_size/s_position")
    rows = []
    for alpha in alphas:
        name = f"{metric}@alpha={alpha:g}"
        swept = sheet.with_metric(
            name, {i: alpha * s + (1 - alpha) * r for i, (s, r) in parts.items()})
        row = pairwise_alignment(swept, name, aspect, pairs, n_boot=0)
        rows.append({"alpha": float(alpha), **row.to_dict()})
    return rows
