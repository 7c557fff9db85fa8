"""Data-parallel scripts/evaluate.py for real: N processes started as torchrun or
`accelerate launch` start them each score their share, and the main process merges once
(evaluation.parallel: the launcher's rank and world size, the file-marker barrier)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bpm_edit.errors import ConfigError
from evaluation.parallel import process_share, wait_for_shards
from evaluation.runner import read_records

ROOT = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)
METRICS = ("l2", "bpm")


class _State:
    def __init__(self, index: int, count: int) -> None:
        self.process_index, self.num_processes = index, count


@pytest.mark.parametrize("environ, state, share", [
    ({}, None, (0, 1)),
    ({"RANK": "1", "WORLD_SIZE": "3"}, None, (1, 3)),
    ({"LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}, None, (1, 2)),
    ({"RANK": "2", "WORLD_SIZE": "4", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "2"}, None, (2, 4)),
    ({}, _State(1, 2), (1, 2)),
    ({"RANK": "1", "WORLD_SIZE": "2"}, _State(1, 2), (1, 2)),
    ({"RANK": "1", "WORLD_SIZE": "2"}, _State(0, 1), (1, 2)),  # accelerate saw one process
])
def test_the_share_comes_from_accelerate_or_the_launcher_env(environ, state, share):
    assert process_share(state, environ) == share


@pytest.mark.parametrize("environ, state, message", [
    ({"WORLD_SIZE": "2"}, None, "WORLD_SIZE is set but RANK is not"),
    ({"RANK": "0"}, None, "RANK is set but WORLD_SIZE is not"),
    ({"LOCAL_WORLD_SIZE": "2"}, None, "LOCAL_WORLD_SIZE is set but LOCAL_RANK is not"),
    ({"RANK": "2", "WORLD_SIZE": "2"}, None, "RANK=2 is outside 0..1"),
    ({"RANK": "x", "WORLD_SIZE": "2"}, None, "expected integers"),
    ({"RANK": "0", "WORLD_SIZE": "3"}, _State(0, 2), "accelerate says process 0 of 2"),
])
def test_a_share_it_cannot_tell_is_an_error(environ, state, message):
    with pytest.raises(ConfigError, match=message):
        process_share(state, environ)


def test_the_main_process_gives_up_when_a_shard_never_finishes(tmp_path):
    out = tmp_path / "r.jsonl"
    (tmp_path / "r.jsonl.shard-0-of-2.jsonl.done").write_text("run")
    (tmp_path / "r.jsonl.shard-1-of-2.jsonl.done").write_text("an earlier run")
    with pytest.raises(ConfigError, match=r"process\(es\) 1 of 2 did not finish"):
        wait_for_shards(out, 2, "run", timeout=0.3, poll=0.05)


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")}
    return {**env, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false", **extra}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic")
    done = subprocess.run([str(PYTHON), "-m", "evaluation.synthetic", str(folder)], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return folder / "dataset.jsonl"


def _argv(dataset: Path, out: Path) -> list[str]:
    return ["scripts/evaluate.py", "--dataset", str(dataset), "--limit", "6", "--metrics",
            ",".join(METRICS), "--models", "tiny", "--batch-size", "2", "--no-progress",
            "--merge-timeout", "120", "--out", str(out)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _check_split_and_merge(out: Path, stderr: str, count: int = 2) -> None:
    for index in range(count):  # each process scored its share: 3 of the 6 items
        found = re.search(rf"\[process {index}/{count}\] 3 items: (\d+) records scored "
                          r"\(0 errors\), (\d+) reused, 0 already done", stderr)
        assert found and int(found[1]) + int(found[2]) == 3 * len(METRICS), stderr
    records = read_records(out)
    pairs = [(r["item_id"], r["metric"]) for r in records]
    assert len(pairs) == len(set(pairs)) == 6 * len(METRICS)  # every item x metric once
    assert all(r["error"] is None for r in records)
    assert not list(out.parent.glob(f"{out.name}.shard-*")), "a shard or marker was left"


def test_two_processes_started_as_torchrun_starts_them_split_and_merge_once(synthetic,
                                                                            tmp_path):
    out = tmp_path / "results.jsonl"
    dataset_bytes = synthetic.read_bytes()
    port = str(_free_port())
    processes = [
        subprocess.Popen([str(PYTHON), *_argv(synthetic, out)], cwd=ROOT, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=_env(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank),
                                  LOCAL_WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                                  MASTER_PORT=port, TORCHELASTIC_RUN_ID="test-run"))
        for rank in range(2)
    ]
    stderr = ""
    for process in processes:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        stderr += err
    _check_split_and_merge(out, stderr)
    assert synthetic.read_bytes() == dataset_bytes


def test_accelerate_launch_multi_gpu_on_a_cpu_machine_splits(synthetic, tmp_path):
    accelerate = PYTHON.parent / "accelerate"
    if not accelerate.exists():
        pytest.skip("accelerate CLI not installed beside this Python")
    out = tmp_path / "results.jsonl"
    done = subprocess.run(
        [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines",
         "1", "--mixed_precision", "no", "--dynamo_backend", "no",
         "--main_process_port", str(_free_port()), *_argv(synthetic, out)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and "[process" not in done.stderr and not out.exists():
        pytest.skip(f"accelerate launch could not start here: {done.stderr[-400:]}")
    assert done.returncode == 0, done.stderr
    _check_split_and_merge(out, done.stderr)
