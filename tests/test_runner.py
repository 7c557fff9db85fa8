"""The resumable batch runner: record format, resume after a crash or a kill, truncated
lines, per-item errors, sharded merges, and the real `accelerate launch` data-parallel
path of scripts/evaluate.py compared with a single-process run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bpm_edit.store import StoreError
from evaluation.items import EditItem
from evaluation.metrics import FatalMetricError, MetricOutput
from evaluation.runner import (
    RECORD_FIELDS,
    evaluate,
    read_records,
    score_items,
    scoring_code,
    select_settings,
    settings_key,
    shard_path,
)

ROOT = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)


class MeanMetric:
    """Mean pixel value of the edited image (deterministic, cheap), counting its calls."""

    higher_is_better = True

    def __init__(self, name: str = "mean", offset: float = 0.0, fail_on: tuple[str, ...] = (),
                 interrupt_after: int | None = None) -> None:
        self.name = name
        self.offset = offset
        self.fail_on = fail_on
        self.interrupt_after = interrupt_after
        self.scored: list[str] = []

    def settings(self) -> dict:
        return {"offset": self.offset}

    def score_batch(self, items):
        outputs = []
        for count, item in enumerate(items):
            if self.interrupt_after is not None and \
                    len(self.scored) + count >= self.interrupt_after:
                raise KeyboardInterrupt("simulated crash")
            if item.item_id in self.fail_on:
                raise ValueError(f"cannot score {item.item_id}")
            value = float(np.asarray(Image.open(item.edited), np.float64).mean()) + self.offset
            outputs.append(MetricOutput(value, {"half": value / 2}, ("flagged",)))
        self.scored.extend(item.item_id for item in items)
        return outputs


def _dataset(tmp_path: Path, n: int = 7) -> list[EditItem]:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    original = folder / "original.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(original)
    items = []
    for index in range(n):
        edited = folder / f"edited{index}.png"
        Image.fromarray(np.full((8, 8, 3), 10 * index, np.uint8)).save(edited)
        items.append(EditItem(item_id=f"item{index}", input_id=f"in{index // 2}",
                              original=str(original), edited=str(edited),
                              instruction="brighten", model=f"model{index % 2}"))
    return items


def _without_time(records):
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]


def test_records_have_the_agreed_fields_and_a_rerun_skips_everything(tmp_path):
    items = _dataset(tmp_path)
    out = tmp_path / "results.jsonl"
    first, second = MeanMetric("mean"), MeanMetric("other", offset=1.0)
    summary = evaluate(items, [first, second], out, batch_size=3, progress=False)
    records = read_records(out)
    assert summary.scored == 14 and summary.skipped == 0 and summary.errors == 0
    assert [tuple(r) for r in records] == [RECORD_FIELDS] * 14
    assert [(r["item_id"], r["metric"]) for r in records] == [
        (item.item_id, m) for item in items for m in ("mean", "other")]
    assert records[2] == {**records[2], "item_id": "item1", "input_id": "in0", "model": "model1",
                          "score": 10.0, "components": {"half": 5.0}, "flags": ["flagged"],
                          "error": None}
    assert len({r["key"] for r in records}) == 14

    again = MeanMetric("mean"), MeanMetric("other", offset=1.0)
    summary = evaluate(items, list(again), out, batch_size=3, progress=False)
    assert summary.scored == 0 and summary.skipped == 14
    assert again[0].scored == [] and again[1].scored == []
    assert read_records(out) == records

    # A changed setting changes the key: that metric is rescored, the other is not.
    changed = MeanMetric("other", offset=2.0)
    evaluate(items, [MeanMetric("mean"), changed], out, batch_size=3, progress=False)
    assert changed.scored == [item.item_id for item in items]
    final = read_records(out)
    # Issue 12: the earlier settings' records are kept (after the current ones).
    assert len(final) == 21
    assert final[:14] == [r for r in final if r["settings"] in {
        settings_key(MeanMetric("mean"), scoring_code()), settings_key(changed, scoring_code())}]
    assert [r["score"] for r in final[:14] if r["metric"] == "other"] == [
        10.0 * i + 2.0 for i in range(7)]
    assert final[14:] == [r for r in records if r["metric"] == "other"]
    with pytest.raises(ValueError, match=r"metric 'other' has records of 2 settings"):
        select_settings(final)
    chosen = select_settings(final, [changed_key := final[1]["settings"][:10]])
    assert len(chosen) == 14 and all(r["settings"].startswith(changed_key)
                                     for r in chosen if r["metric"] == "other")


def test_changed_input_bytes_change_the_key(tmp_path):
    items = _dataset(tmp_path, 3)
    out = tmp_path / "results.jsonl"
    evaluate(items, [MeanMetric()], out, progress=False)
    Image.fromarray(np.full((8, 8, 3), 99, np.uint8)).save(items[1].edited)
    metric = MeanMetric()
    evaluate(items, [metric], out, progress=False)
    assert metric.scored == ["item1"]
    # The record of the old content stays, after the current ones; readers take the first.
    assert [r["score"] for r in read_records(out)] == [0.0, 99.0, 20.0, 10.0]
    assert [r["score"] for r in select_settings(read_records(out))] == [0.0, 99.0, 20.0]


def test_per_item_errors_are_recorded_and_retried_on_rerun(tmp_path):
    items = _dataset(tmp_path, 5)
    out = tmp_path / "results.jsonl"
    metric = MeanMetric(fail_on=("item2",))
    summary = evaluate(items, [metric], out, batch_size=4, progress=False)
    records = read_records(out)
    assert summary.errors == 1 and len(records) == 5
    # Issue 12: the error names the item's files when the exception does not.
    assert records[2]["error"] == (f"ValueError: cannot score item2 [original: "
                                   f"{items[2].original}, edited: {items[2].edited}]")
    assert records[2]["score"] is None and records[2]["components"] == {}
    assert [r["score"] for r in records if r["error"] is None] == [0.0, 10.0, 30.0, 40.0]
    # The batch raised once; the other items of that batch were scored one by one.
    assert metric.scored == ["item0", "item1", "item3", "item4"]

    fixed = MeanMetric()
    evaluate(items, [fixed], out, progress=False)
    assert fixed.scored == ["item2"]
    records = read_records(out)
    assert len(records) == 5 and all(r["error"] is None for r in records)


def test_a_fatal_error_stops_the_run_and_keeps_finished_batches(tmp_path):
    items = _dataset(tmp_path, 6)
    out = tmp_path / "results.jsonl"

    class Unreachable(MeanMetric):
        def score_batch(self, batch):
            if any(item.item_id == "item4" for item in batch):
                raise FatalMetricError("endpoint http://x is unreachable")
            return super().score_batch(batch)

    with pytest.raises(FatalMetricError, match="unreachable"):
        evaluate(items, [Unreachable()], out, batch_size=2, progress=False)
    assert [r["item_id"] for r in read_records(out)] == ["item0", "item1", "item2", "item3"]


def test_resume_after_an_injected_crash_has_every_record_once(tmp_path):
    items = _dataset(tmp_path, 9)
    out = tmp_path / "results.jsonl"
    dataset_bytes = [Path(i.edited).read_bytes() for i in items]
    crashing = MeanMetric(interrupt_after=5)
    with pytest.raises(KeyboardInterrupt):
        evaluate(items, [crashing, MeanMetric("other")], out, batch_size=2, progress=False)
    kept = read_records(out)
    assert [r["item_id"] for r in kept] == [f"item{i // 2}" for i in range(8)]  # 4 batches

    resumed = MeanMetric()
    evaluate(items, [resumed, MeanMetric("other")], out, batch_size=2, progress=False)
    assert resumed.scored == ["item4", "item5", "item6", "item7", "item8"]
    records = read_records(out)
    assert sorted((r["item_id"], r["metric"]) for r in records) == sorted(
        (i.item_id, m) for i in items for m in ("mean", "other"))
    assert [Path(i.edited).read_bytes() for i in items] == dataset_bytes


def test_a_truncated_last_line_is_dropped_and_rescored(tmp_path):
    items = _dataset(tmp_path, 4)
    out = tmp_path / "results.jsonl"
    evaluate(items, [MeanMetric()], out, progress=False)
    complete = read_records(out)
    text = out.read_text()
    out.write_text(text[: len(text) - 40])  # a crash in the middle of the last record
    assert read_records(out) == complete[:3]
    metric = MeanMetric()
    evaluate(items, [metric], out, progress=False)
    assert metric.scored == ["item3"]
    assert _without_time(read_records(out)) == _without_time(complete)
    assert out.read_text().endswith("}\n")


def test_a_corrupt_line_in_the_middle_is_an_error_naming_it(tmp_path):
    out = tmp_path / "results.jsonl"
    out.write_text('{"key": "a", "item_id": "x", "metric": "m"}\nnot json\n'
                   '{"key": "b", "item_id": "y", "metric": "m"}\n')
    with pytest.raises(StoreError, match=r"results.jsonl, line 2"):
        read_records(out)


def test_duplicate_item_ids_are_rejected(tmp_path):
    items = _dataset(tmp_path, 2)
    with pytest.raises(ValueError, match="item_id 'item0' appears twice"):
        evaluate([items[0], items[0]], [MeanMetric()], tmp_path / "r.jsonl", progress=False)


def test_same_content_under_two_item_ids_is_scored_once_and_recorded_twice(tmp_path):
    items = _dataset(tmp_path, 1)
    twin = EditItem(**{**items[0].to_dict(), "item_id": "twin", "model": "copy"})
    out = tmp_path / "r.jsonl"
    metric = MeanMetric()
    summary = evaluate([items[0], twin], [metric], out, batch_size=1, progress=False)
    assert metric.scored == ["item0"] and summary.reused == 1
    first, second = read_records(out)
    assert (first["item_id"], second["item_id"], second["model"]) == ("item0", "twin", "copy")
    assert first["key"] == second["key"] and first["score"] == second["score"]


def test_leftover_shards_of_an_interrupted_parallel_run_are_merged(tmp_path):
    items = _dataset(tmp_path, 6)
    out = tmp_path / "results.jsonl"
    # Process 1 of 2 finished its items before the run died; process 0 did nothing.
    score_items(items, [MeanMetric()], shard_path(out, 1, 2), shard=(1, 2), progress=False)
    assert not out.exists()
    metric = MeanMetric()
    evaluate(items, [metric], out, progress=False)
    assert metric.scored == ["item0", "item2", "item4"]
    assert [r["item_id"] for r in read_records(out)] == [i.item_id for i in items]
    assert not list(tmp_path.glob("results.jsonl.shard-*"))


def test_records_of_other_items_are_kept(tmp_path):
    items = _dataset(tmp_path, 4)
    out = tmp_path / "results.jsonl"
    evaluate(items[2:], [MeanMetric()], out, progress=False)
    evaluate(items[:2], [MeanMetric()], out, progress=False)
    assert [r["item_id"] for r in read_records(out)] == ["item0", "item1", "item2", "item3"]


_KILLED_RUN = """
import sys, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
from evaluation.datasets import load_plain
from evaluation.runner import evaluate
from test_runner import MeanMetric

class Slow(MeanMetric):
    def score_batch(self, items):
        time.sleep(0.4)
        return super().score_batch(items)

items = load_plain({dataset!r}).items
evaluate(items, [Slow(), MeanMetric("other")], {out!r}, batch_size=2, progress=False)
"""


def test_a_killed_process_resumes_with_every_record_once(tmp_path):
    from evaluation.datasets import load_plain, write_plain

    items = _dataset(tmp_path, 12)
    dataset = write_plain(items, tmp_path / "data" / "dataset.jsonl")
    before = dataset.read_bytes()
    out = tmp_path / "results.jsonl"
    script = tmp_path / "run.py"
    script.write_text(_KILLED_RUN.format(root=str(ROOT), tests=str(ROOT / "tests"),
                                         dataset=str(dataset), out=str(out)))
    process = subprocess.Popen([str(PYTHON), str(script)], cwd=tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or len(read_records(out)) < 4):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = read_records(out)
    assert 4 <= len(partial) < 24, "the kill came too late to test anything"

    loaded = load_plain(dataset).items
    resumed = MeanMetric()
    evaluate(loaded, [resumed, MeanMetric("other")], out, batch_size=2, progress=False)
    done_before = {r["item_id"] for r in partial if r["metric"] == "mean"}
    assert set(resumed.scored) == {i.item_id for i in loaded} - done_before
    records = read_records(out)
    assert sorted((r["item_id"], r["metric"]) for r in records) == sorted(
        (i.item_id, m) for i in loaded for m in ("mean", "other"))
    assert dataset.read_bytes() == before


# --------------------------------------------------------- scripts/evaluate.py for real


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, **kwargs)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    from evaluation.synthetic import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path_factory.mktemp("synthetic"))


def test_accelerate_data_parallel_equals_single_process(synthetic, tmp_path):
    accelerate = PYTHON.parent / "accelerate"
    if not accelerate.exists():
        pytest.skip("accelerate CLI not installed beside this Python")
    common = ["scripts/evaluate.py", "--dataset", str(synthetic), "--limit", "6",
              "--metrics", "l2,clip-t,dino", "--models", "tiny", "--device", "cpu",
              "--batch-size", "1", "--no-progress"]  # same batches: bit-equal floats
    single = tmp_path / "single.jsonl"
    done = _run([str(PYTHON), *common, "--out", str(single)])
    assert done.returncode == 0, done.stderr
    # `--cpu` makes accelerate use its single-process launcher; `--multi_gpu` on a machine
    # without GPUs starts the processes with torch.distributed (gloo) on the CPU.
    merged = tmp_path / "merged.jsonl"
    done = _run([str(accelerate), "launch", "--multi_gpu", "--num_processes", "2",
                 "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                 *common, "--out", str(merged)])
    assert done.returncode == 0, done.stderr
    assert "[process 1/2]" in done.stderr and "[process 0/2]" in done.stderr
    assert _without_time(read_records(merged)) == _without_time(read_records(single))
    assert len(read_records(merged)) == 18
    assert not list(tmp_path.glob("merged.jsonl.shard-*"))


def test_evaluate_script_errors_are_one_line(synthetic, tmp_path):
    done = _run([str(PYTHON), "scripts/evaluate.py", "--dataset", str(synthetic),
                 "--metrics", "l2,psnr", "--out", str(tmp_path / "r.jsonl")])
    assert done.returncode == 2
    assert "unknown metric 'psnr'; choose from: bpm, l2, lpips" in done.stderr
    done = _run([str(PYTHON), "scripts/evaluate.py", "--dataset", str(tmp_path / "nope.jsonl"),
                 "--metrics", "l2", "--out", str(tmp_path / "r.jsonl")])
    assert done.returncode == 2 and "nope.jsonl" in done.stderr


def _evaluate_main():
    import importlib.util

    spec = importlib.util.spec_from_file_location("evaluate_script", ROOT / "scripts" /
                                                  "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_evaluate_script_reads_the_authors_metadata_format(tmp_path, capsys):
    _dataset(tmp_path, 2)
    metadata = tmp_path / "data" / "gt_test_metadata.json"
    metadata.write_text(json.dumps([
        {"index": 7, "instruction": "brighten", "source_image_path": "original.png",
         "edited_image1": {"image_path": "edited0.png", "user_overall_quality": 4},
         "edited_image2": {"image_path": "edited1.png", "user_overall_quality": 2}},
        {"index": 8, "instruction": "brighten", "source_image_path": "gone.png",
         "edited_image1": {"image_path": "edited0.png"}},
    ]))
    out = tmp_path / "results.jsonl"
    main = _evaluate_main()
    assert main(["--dataset", str(metadata), "--model-names", "ip2p,mgie", "--roles",
                 "1=ground_truth,2=excessively_preserved", "--metrics", "l2", "--models",
                 "tiny", "--device", "cpu", "--out", str(out), "--no-progress"]) == 0
    records = read_records(out)
    assert [(r["item_id"], r["model"], r["score"]) for r in records] == [
        ("7:ip2p", "ip2p", 0.0), ("7:mgie", "mgie", pytest.approx(10 / 255))]
    assert "row 8, field 'source_image_path'" in capsys.readouterr().err  # reported, skipped

    assert main(["--dataset", str(tmp_path / "data"), "--format", "piebench", "--metrics",
                 "l2", "--out", str(out)]) == 2
    assert "--outputs MODEL=FOLDER" in capsys.readouterr().err
    assert main(["--dataset", str(metadata), "--model-names", "ip2p,mgie", "--metrics", "bpm",
                 "--sam-batch-size", "0", "--out", str(out)]) == 2
    assert "--sam-batch-size must be a positive int, got 0" in capsys.readouterr().err


def test_alignment_script_refuses_mixed_settings_unless_one_is_picked(synthetic, tmp_path,
                                                                      capsys):
    import importlib.util

    from evaluation.datasets import load_plain

    items = load_plain(synthetic).items
    out = tmp_path / "results.jsonl"
    evaluate(items, [MeanMetric("mean")], out, progress=False)
    evaluate(items, [MeanMetric("mean", offset=1.0)], out, progress=False)
    records = read_records(out)
    assert len(records) == 2 * len(items)  # the first settings' records are kept
    spec = importlib.util.spec_from_file_location("alignment_script",
                                                  ROOT / "scripts" / "alignment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["--results", str(out), "--dataset", str(synthetic), "--out", str(tmp_path / "t"),
            "--n-boot", "10"]
    assert module.main(argv) == 2
    assert "metric 'mean' has records of 2 settings" in capsys.readouterr().err
    newer = records[0]["settings"][:8]
    assert module.main([*argv, "--settings", newer]) == 0
    assert module.main([*argv, "--settings", "ffffffffff"]) == 2
    assert "--settings ffffffffff: no record" in capsys.readouterr().err


def test_a_rerun_with_other_settings_keeps_the_records_and_reports_its_own(synthetic,
                                                                          tmp_path):
    out, report = tmp_path / "results.jsonl", tmp_path / "report.html"
    main = _evaluate_main()
    argv = ["--dataset", str(synthetic), "--limit", "2", "--metrics", "l2,bpm", "--models",
            "tiny", "--device", "cpu", "--out", str(out), "--report", str(report),
            "--no-progress"]
    assert main(argv) == 0
    first = read_records(out)
    assert main([*argv, "--alpha", "0.5"]) == 0
    records = read_records(out)
    assert len(records) == 6 and all(r in records for r in first)  # 2 l2, 2 + 2 bpm
    assert len({r["settings"] for r in records if r["metric"] == "bpm"}) == 2
    assert "2 items, 2 metrics, 4 records" in report.read_text()  # this run's settings


def test_alignment_script_checks_its_out_folder_first(synthetic, tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("alignment_script",
                                                  ROOT / "scripts" / "alignment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = tmp_path / "results.jsonl"
    results.write_text("")
    table = tmp_path / "tables" / "summary.csv"
    table.parent.mkdir()
    table.write_text("item_id,score\n")
    for out, message in ((results, "is a file; expected a folder"),
                         (table.parent, "would overwrite the input")):
        argv = ["--results", str(results), "--dataset", str(synthetic), "--out", str(out)]
        if out == table.parent:
            argv[1] = str(table)
        assert module.main(argv) == 2
        assert message in capsys.readouterr().err
    assert results.read_text() == "" and table.read_text() == "item_id,score\n"
