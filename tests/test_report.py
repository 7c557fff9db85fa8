"""The HTML report: parses, has one row per item with embedded thumbnails, the summary
means computed by hand, the alignment tables when humans rated the items, and nothing
that needs the network."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from evaluation.datasets import load_plain
from evaluation.report import build_report_html, summary_rows, write_report

ROOT = Path(__file__).resolve().parents[1]


class _Page(HTMLParser):
    """Collects tables (rows of cell texts, with data-value attributes) and resources."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[tuple[str, str | None]]]] = []
        self.headings: list[str] = []
        self.sources: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self._stack: list[str] = []
        self._cell: list[str] | None = None
        self._value: str | None = None
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in ("img", "br", "meta"):
            self._stack.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell, self._value = [], attrs.get("data-value")
        elif tag in ("h1", "h2", "h3"):
            self._heading = []
        elif tag == "img":
            self.sources.append(attrs.get("src", ""))
        elif tag in ("link", "a"):
            self.links.append(attrs.get("href", ""))
        elif tag == "script":
            self.scripts += 1
            assert "src" not in attrs

    def handle_endtag(self, tag):
        assert self._stack and self._stack[-1] == tag, f"unbalanced </{tag}>"
        self._stack.pop()
        if tag in ("td", "th"):
            self.tables[-1][-1].append(("".join(self._cell).strip(), self._value))
            self._cell = None
        elif tag in ("h1", "h2", "h3"):
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    assert page._stack == [], f"unclosed tags {page._stack}"
    return page


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from evaluation.synthetic import write_synthetic_dataset

    path = write_synthetic_dataset(tmp_path_factory.mktemp("synthetic"))
    return path, load_plain(path).items


def _records(items, broken: str | None = None):
    """Hand-made results: l2 = index / 10, clip-t = 1 - index / 10, one error."""
    records = []
    for index, item in enumerate(items):
        for metric, score in (("l2", index / 10), ("clip-t", 1 - index / 10)):
            error = "ValueError: cannot read" if item.item_id == broken and metric == "l2" \
                else None
            records.append({"key": f"{item.item_id}:{metric}", "item_id": item.item_id,
                            "input_id": item.input_id, "model": item.model, "metric": metric,
                            "score": None if error else score,
                            "components": {"part": score / 2} if metric == "clip-t" else {},
                            "flags": ["edited_resized"] if index == 0 else [],
                            "error": error, "elapsed_s": 0.01})
    return records


def test_summary_means_by_hand(synthetic):
    _, items = synthetic
    items = items[:6]
    records = _records(items, broken=items[2].item_id)
    rows = {row["model"]: row for row in summary_rows(records, ["l2", "clip-t"],
                                                       ["precise", "sloppy"])}
    models = [item.model for item in items]
    precise = [i / 10 for i, m in enumerate(models) if m == "precise" and i != 2]
    assert rows["precise"]["l2"]["mean"] == pytest.approx(sum(precise) / len(precise))
    assert rows["all"]["l2"] == {"mean": pytest.approx((0 + 1 + 3 + 4 + 5) / 50), "n": 5,
                                 "errors": 1, "undefined": 0}
    assert rows["all"]["clip-t"]["n"] == 6


def test_report_rows_images_and_offline(synthetic, tmp_path):
    path, items = synthetic
    records = _records(items, broken=items[3].item_id)
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = write_report(results, tmp_path / "report.html", items=items)
    text = out.read_text(encoding="utf-8")
    page = _parse(text)

    items_table = page.tables[-1]
    header = [cell for cell, _ in items_table[0]]
    assert header[:6] == ["Item", "Model", "Instruction", "Original", "Edited", "Masks"]
    assert header[6:] == ["l2", "clip-t", "Flags / errors", "Human"]
    body = items_table[1:]
    assert [row[0][0] for row in body] == [item.item_id for item in items]
    l2_column = header.index("l2")
    assert [row[l2_column][1] for row in body] == [
        "" if i == 3 else repr(float(i / 10)) for i in range(len(items))]
    assert "ValueError: cannot read" in body[3][header.index("Flags / errors")][0]
    assert "l2:edited_resized" in body[0][header.index("Flags / errors")][0]

    # every thumbnail is embedded; nothing points outside the file
    assert page.sources and all(src.startswith("data:image/") for src in page.sources)
    masked = sum(1 for item in items if item.mask_original) + sum(
        1 for item in items if item.mask_edited)
    assert len(page.sources) == 2 * len(items) + masked
    assert page.links == [] and page.scripts == 1
    assert "http://" not in text and "https://" not in text

    # summary table first: one row per editing model plus "all"
    summary = page.tables[0]
    models = list(dict.fromkeys(item.model for item in items))
    assert [row[0][0] for row in summary[1:]] == [*models, "all"]
    # the synthetic set has human scores: the protocol tables are included
    assert "Human alignment and protocol tables" in page.headings
    assert "Human alignment (overall)" in page.headings
    assert "Ground-truth test (share of inputs each candidate wins)" in page.headings


def test_report_without_items_lists_records():
    records = [{"key": "k1", "item_id": "a", "input_id": "i", "model": "m", "metric": "bpm",
                "score": 0.5, "components": {"s_modify": 0.1}, "flags": ["low_confidence"],
                "error": None, "elapsed_s": 1.0},
               {"key": "k2", "item_id": "b", "input_id": "i", "model": "n", "metric": "bpm",
                "score": None, "components": {}, "flags": [], "error": "boom <b>",
                "elapsed_s": 1.0}]
    page = _parse(build_report_html(records, title="t <x>"))
    assert page.headings[0] == "t <x>"
    rows = page.tables[-1][1:]
    assert [row[0][0] for row in rows] == ["a", "b"]
    assert rows[0][3] == ("0.5s_modify: 0.1", "0.5")
    assert "boom <b>" in rows[1][4][0]  # escaped text, not markup


def test_evaluate_script_writes_the_report(synthetic, tmp_path):
    path, items = synthetic
    out = tmp_path / "results.jsonl"
    report = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "scripts/evaluate.py", "--dataset", str(path), "--metrics", "l2",
         "--models", "tiny", "--device", "cpu", "--out", str(out), "--report", str(report),
         "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    page = _parse(report.read_text(encoding="utf-8"))
    assert len(page.tables[-1]) == len(items) + 1
