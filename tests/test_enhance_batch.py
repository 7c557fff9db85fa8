"""The resumable enhance batch (`pipelines.batch`), offline with the tiny models: resume
after a crash, the results store's torn-line and corrupt-line policies, failing items,
job-file checks and the item key."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from PIL import Image

from bpm_edit.config import MetricConfig
from bpm_edit.errors import ConfigError, InputError
from bpm_edit.store import StoreError
from pipelines import batch, run
from pipelines.config import EditConfig
from pipelines.editing_models import editing_model_info

ROOT = Path(__file__).resolve().parents[1]
OUTPUT_FILES = ["comparison.png", "mask.png", "result.json", "round1.png", "round2.png"]
REAL_ENHANCE_ITEM = run.enhance_item

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("enhance_script", ROOT / "scripts" / "enhance.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def jobs(tmp_path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for name, colour in (("red.png", (200, 30, 30)), ("blue.png", (30, 30, 200))):
        Image.new("RGB", (48, 32), colour).save(data / name)
    path = data / "items.jsonl"
    path.write_text(
        '{"image": "red.png", "instruction": "turn the cat into a tiger"}\n'
        '\n'
        '{"image": "blue.png", "instruction": "replace the cup with a teapot", "seed": 3}\n'
    )
    return path


def options(script, jobs: Path, out: Path):
    """`run_enhance_batch`'s arguments as scripts/enhance.py builds them."""
    args = script.build_parser().parse_args(
        ["--model", "tiny", "--batch", str(jobs), "--out", str(out), "--quiet"])
    return EditConfig.from_args(args), MetricConfig.from_args(args, models="tiny"), jobs, out, False


def counting(monkeypatch, calls: list[str], fail_on: str | None = None, crash_on: int = 0):
    """Wrap `run.enhance_item`: record each item's image name; fail `fail_on` with an
    InputError (as a bad item does); raise KeyboardInterrupt (a kill) on call number
    `crash_on` (1-based)."""
    def wrapped(*args, **kwargs):
        name = args[4]["image"].name
        calls.append(name)
        if len(calls) == crash_on:
            raise KeyboardInterrupt
        if name == fail_on:
            raise InputError("the editor gave up")
        return REAL_ENHANCE_ITEM(*args, **kwargs)

    monkeypatch.setattr(run, "enhance_item", wrapped)


def test_resume_after_a_crash_cuts_the_torn_line_and_redoes_only_the_unfinished_item(
    script, jobs, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    calls: list[str] = []
    counting(monkeypatch, calls, crash_on=2)
    with pytest.raises(KeyboardInterrupt):
        batch.run_enhance_batch(*options(script, jobs, out))
    results = out / "results.jsonl"
    assert len(results.read_text().splitlines()) == 1
    with open(results, "a") as handle:
        handle.write('{"key": "torn')  # a record cut off by the crash

    calls.clear()
    counting(monkeypatch, calls)
    assert batch.run_enhance_batch(*options(script, jobs, out)) == 0
    assert calls == ["blue.png"]  # item 1 was finished and is not redone
    lines = results.read_text().splitlines()
    assert len(lines) == 2  # the torn line was cut away, the file is valid JSONL again
    records = [json.loads(line) for line in lines]
    assert [r["line"] for r in records] == [1, 3]
    assert len({r["key"] for r in records}) == 2
    for record in records:
        assert sorted(p.name for p in (out / record["folder"]).iterdir()) == OUTPUT_FILES

    calls.clear()
    assert batch.run_enhance_batch(*options(script, jobs, out)) == 0
    assert calls == []  # everything done: nothing recomputed, nothing appended
    assert results.read_text().splitlines() == lines


def test_a_failing_item_is_reported_by_file_and_line_and_retried_next_run(
    script, jobs, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "out"
    calls: list[str] = []
    counting(monkeypatch, calls, fail_on="red.png")
    assert batch.run_enhance_batch(*options(script, jobs, out)) == 1
    captured = capsys.readouterr()
    assert f"error: {jobs}:1: the editor gave up" in captured.out  # tqdm.write: stdout
    assert "1 finished item(s)" in captured.out
    calls.clear()
    counting(monkeypatch, calls)
    assert batch.run_enhance_batch(*options(script, jobs, out)) == 0
    assert calls == ["red.png"]


def test_a_corrupt_results_line_is_an_error_before_any_model_loads(
    script, jobs, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "out"
    out.mkdir()
    results = out / "results.jsonl"
    content = '{"key": "a"}\nnot json\n{"key": "b"}\n'
    results.write_text(content)
    monkeypatch.setattr(run, "load_models", lambda *args: pytest.fail("models loaded"))
    with pytest.raises(StoreError, match=r"results.jsonl, line 2: not valid JSON"):
        batch.run_enhance_batch(*options(script, jobs, out))
    argv = ["--model", "tiny", "--batch", str(jobs), "--out", str(out), "--quiet"]
    assert script.main(argv) == 2
    assert f"error: {results}, line 2: not valid JSON" in capsys.readouterr().err
    assert results.read_text() == content and sorted(p.name for p in out.iterdir()) == [
        "results.jsonl"]


def test_read_batch_resolves_paths_skips_blank_lines_and_keeps_seed_and_id(tmp_path, jobs):
    with open(jobs, "a") as handle:
        handle.write(json.dumps({"image": str(jobs.parent / "red.png"), "instruction": " x ",
                                 "id": "third", "mask": "red.png"}) + "\n")
    items = batch.read_batch(jobs)
    assert [item["line"] for item in items] == [1, 3, 4]
    assert items[0]["image"] == jobs.parent / "red.png" and items[0]["mask"] is None
    assert items[1]["seed"] == 3 and "seed" not in items[0]
    assert (items[2]["id"], items[2]["instruction"], items[2]["mask"]) == (
        "third", "x", jobs.parent / "red.png")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"image": "red.png", "instruction": "a", "sede": 1}', "unknown field(s) ['sede']"),
        ('{"instruction": "a"}', "missing 'image' (a path)"),
        ('{"image": "red.png", "instruction": "a", "seed": "1"}', "'seed' must be an integer"),
        ('["red.png", "a"]', "expected a JSON object with image and instruction"),
        ('{"image": "red.png", "instruction": "  "}', "instruction is empty"),
        ('{"image": "red.png", "instruction": "a", "mask": "no.png"}', "mask not found"),
    ],
)
def test_read_batch_errors_name_file_and_line(jobs, line, message):
    jobs.write_text(line + "\n")
    with pytest.raises(InputError) as caught:
        batch.read_batch(jobs)
    assert str(caught.value).startswith(f"{jobs}:1: {message}")


def test_read_batch_refuses_a_missing_or_empty_file(tmp_path):
    with pytest.raises(InputError, match="batch file not found"):
        batch.read_batch(tmp_path / "none.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n")
    with pytest.raises(InputError, match=r"empty.jsonl: no items"):
        batch.read_batch(empty)


def test_item_key_follows_the_inputs_and_the_seed(jobs):
    edit, metric, info = EditConfig(model="tiny"), MetricConfig(models="tiny"), \
        editing_model_info("tiny")
    red, blue = batch.read_batch(jobs)

    def key(item=red, edit=edit, metric=metric, dtype="torch.float32"):
        return batch.item_key(item, edit, info, metric.key(), dtype)

    first = key()
    assert key() == first and len(first) == 64
    assert key(edit=edit.replace(seed=1)) != first
    assert key({**red, "instruction": "other"}) != first
    assert key({**red, "image": blue["image"]}) != first
    assert key({**red, "mask": blue["image"]}) != first
    assert key(dtype="torch.float16") != first


@pytest.mark.parametrize("changes", [
    {"sam_dtype": "bfloat16"}, {"detection_size": 512}, {"parser": "openai", "parser_options": {
        "base_url": "http://localhost:8000/v1", "model": "m"}}, {"alpha": 0.5},
])
def test_item_key_follows_every_metric_setting(jobs, changes):
    """The old key left out the metric's SAM precision, detection size, parser and
    weights: a batch rerun with --sam-dtype bfloat16 reused float32 records."""
    red, _ = batch.read_batch(jobs)
    info, edit = editing_model_info("tiny"), EditConfig(model="tiny")
    metric = MetricConfig(models="tiny")
    assert batch.item_key(red, edit, info, metric.replace(**changes).key(), "f32") != \
        batch.item_key(red, edit, info, metric.key(), "f32")


def test_item_key_follows_the_metric_weights_and_the_editor_directory(jobs, tmp_path):
    red, _ = batch.read_batch(jobs)
    info = editing_model_info("tiny")
    sam = tmp_path / "sam.pth"
    sam.write_bytes(b"x")
    plain = MetricConfig(models="tiny")
    edit = EditConfig(model="tiny")
    assert batch.item_key(red, edit, info, plain.replace(weights={"sam": sam}).key(), "f32") != \
        batch.item_key(red, edit, info, plain.key(), "f32")
    editor_dir = tmp_path / "editor"
    editor_dir.mkdir()
    (editor_dir / "model_index.json").write_text("{}")
    other = EditConfig(model=str(editor_dir))
    info = editing_model_info(str(editor_dir))
    first = batch.item_key(red, other, info, plain.key(), "f32")
    (editor_dir / "model_index.json").write_text('{"changed": 1}')
    assert batch.item_key(red, other, info, plain.key(), "f32") != first


def test_a_job_beyond_the_machine_is_refused_with_the_figure_before_loading(capsys):
    """Regression: --resolution 100000 ran out of memory after minutes."""
    metric = MetricConfig(models="random")
    big = EditConfig(model="random", resolution=4096)
    with pytest.raises(ConfigError, match=r"needs about 7\d\.\d GB .* cpu has 16\.0 GB"):
        run.check_limits(big, metric, [(451, 300)], memory=lambda device: 16 * 10**9)
    run.check_limits(EditConfig(model="random"), metric, [(451, 300)],
                     memory=lambda device: 16 * 10**9)
    run.check_limits(big, metric, [(451, 300)], memory=lambda device: None)
    assert "memory check skipped" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="above the largest working size, 4096 px"):
        run.check_limits(EditConfig(model="tiny", resolution=4097), metric, [(451, 300)])
    assert run.available_memory("cpu") > 10**8
