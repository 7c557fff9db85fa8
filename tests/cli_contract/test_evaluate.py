"""The bad-input catalogue of scripts/evaluate.py: each case is an argv (with tmp paths),
the exit code, a substring of the message, and every file under the case's folder (the
dataset, its images, any file the case puts there) byte-for-byte unchanged, with no new
file left and no traceback. Most cases fail before any model loads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from evaluation.runner import read_records

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = str(ROOT / "scripts" / "evaluate.py")
IMAGE = "images/recolor_square_original.png"  # an input of the synthetic set's first item


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    from evaluation.synthetic import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path_factory.mktemp("synthetic")).parent


def _bomb_png(path: Path, side: int = 30000) -> None:
    """A valid 1-bit PNG of side x side pixels, about 100 KB (PIL refuses to decode it)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    header = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])
    packer, row = zlib.compressobj(9), b"\0" * (1 + (side + 7) // 8)
    data = b"".join(packer.compress(row * 1000) for _ in range(side // 1000)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
                     + chunk(b"IEND", b""))


def _unwritable(folder: Path) -> None:
    """Make `folder` refuse new files (chmod, or chattr +i for root); skip if neither can."""
    folder.mkdir()
    folder.chmod(0o555)
    probe = folder / "probe"
    try:
        probe.touch()
    except OSError:
        return
    probe.unlink()
    folder.chmod(0o755)
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)],
                                                 capture_output=True).returncode == 0:
        return
    pytest.skip("cannot make a folder unwritable here (root without chattr)")


def _writable_again(root: Path) -> None:
    for folder in root.rglob("*"):
        if folder.is_dir():
            if shutil.which("chattr"):
                subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
            folder.chmod(0o755)


@dataclass
class Case:
    name: str
    argv: list[str]  # {data}: the dataset file, {dir}: the case's folder, {image}: an input
    code: int
    message: str
    setup: Callable[[Path], None] | None = None
    env: dict[str, str | None] = field(default_factory=dict)
    check: Callable[[Path, str], None] | None = None


def _write(name: str, content: bytes | str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        data = content.encode() if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return setup


def _bomb_dataset(folder: Path) -> None:
    _bomb_png(folder / "data" / "bomb.png")
    item = {"item_id": "bomb", "input_id": "in", "original": IMAGE, "edited": "bomb.png",
            "instruction": "make it red", "model": "m"}
    (folder / "data" / "bomb.jsonl").write_text(json.dumps(item) + "\n")


def _bomb_recorded(folder: Path, output: str) -> None:
    (record,) = read_records(folder / "new.jsonl")
    assert "DecompressionBomb" in record["error"] or "pixels" in record["error"]
    assert str(folder / "data" / "bomb.png") in record["error"]


TINY = ["--models", "tiny", "--device", "cpu", "--no-progress"]
BASE = ["--dataset", "{data}", "--metrics", "l2"]
OUT = ["--out", "{dir}/new.jsonl"]

CASES = [
    Case("dataset whose rows all fail", ["--dataset", "{dir}/rows.jsonl", "--metrics", "l2",
                                          *OUT], 2, "field 'original'",
         setup=_write("rows.jsonl", '{"item_id": "a", "edited": "x.png", '
                                    '"instruction": "i"}\n')),
    Case("missing dataset", ["--dataset", "{dir}/nope.jsonl", "--metrics", "l2", *OUT], 2,
         "nope.jsonl"),
    Case("dataset of unknown format", ["--dataset", "{image}", "--metrics", "l2", *OUT], 2,
         "unknown dataset format"),
    Case("bad --format", [*BASE, "--format", "xml", *OUT], 2, "argument --format"),
    Case("unknown metric", ["--dataset", "{data}", "--metrics", "l2,psnr", *OUT], 2,
         "unknown metric 'psnr'"),
    Case("empty --metrics", ["--dataset", "{data}", "--metrics", ",", *OUT], 2,
         "no metric given"),
    Case("--limit -3", [*BASE, "--limit", "-3", *OUT], 2, "argument --limit"),
    Case("--limit 0", [*BASE, "--limit", "0", *OUT], 2, "argument --limit"),
    Case("--limit text", [*BASE, "--limit", "many", *OUT], 2, "argument --limit"),
    Case("--batch-size 0", [*BASE, "--batch-size", "0", *OUT], 2, "--batch-size must be >= 1"),
    Case("--sam-batch-size 0", [*BASE, "--sam-batch-size", "0", *OUT], 2,
         "--sam-batch-size must be a positive int"),
    Case("piebench without --outputs", ["--dataset", "{dir}/data", "--format", "piebench",
                                        "--metrics", "l2", *OUT], 2, "--outputs MODEL=FOLDER"),
    Case("bad --roles", [*BASE, "--format", "bpm", "--roles", "1=best", *OUT], 2,
         "--roles expects SLOT=ROLE"),
    Case("vlm without endpoint", [*BASE.copy()[:-1], "vlm", *TINY, *OUT], 2,
         "needs an OpenAI-compatible endpoint"),
    Case("--out is a directory", [*BASE, "--out", "{dir}/data"], 2, "is a directory"),
    Case("--out is the dataset", [*BASE, "--out", "{data}"], 2, "is an input"),
    Case("--out is an item image", [*BASE, "--out", "{image}"], 2, "is an input"),
    Case("--out is an existing PNG", [*BASE, "--out", "{dir}/picture.png"], 2,
         "is not a bpm-edit results file", setup=lambda d: shutil.copy(d / "data" / IMAGE,
                                                                       d / "picture.png")),
    Case("--out is a text file", [*BASE, "--out", "{dir}/notes.txt"], 2,
         "is not a bpm-edit results file", setup=_write("notes.txt", "my notes\nmore\n")),
    Case("--out is a one-line text file", [*BASE, "--out", "{dir}/notes.txt"], 2,
         "is not a bpm-edit results file", setup=_write("notes.txt", "my notes")),
    Case("--out is another JSONL", [*BASE, "--out", "{dir}/specs.jsonl"], 2,
         "is not a bpm-edit results file",
         setup=_write("specs.jsonl", '{"key": "k", "instruction": "x"}\n')),
    Case("--out below a file", [*BASE, "--out", "{dir}/notes.txt/r.jsonl"], 2,
         "is a file, not a folder", setup=_write("notes.txt", "x\n")),
    Case("--out in a read-only folder", [*BASE, "--out", "{dir}/locked/r.jsonl"], 2,
         "cannot write in", setup=lambda d: _unwritable(d / "locked")),
    Case("--report is a directory", [*BASE, *OUT, "--report", "{dir}/data"], 2,
         "--report", ),
    Case("--report is --out", [*BASE, *OUT, "--report", "{dir}/new.jsonl"], 2,
         "is an input"),
    Case("--report is an item image", [*BASE, *OUT, "--report", "{image}"], 2, "is an input"),
    Case("--report is an existing PNG", [*BASE, *OUT, "--report", "{dir}/r.png"], 2,
         "is not an HTML report", setup=lambda d: shutil.copy(d / "data" / IMAGE, d / "r.png")),
    Case("--report in a read-only folder", [*BASE, *OUT, "--report", "{dir}/locked/r.html"],
         2, "cannot write in", setup=lambda d: _unwritable(d / "locked")),
    Case("missing weights, all in one message",
         ["--dataset", "{data}", "--metrics", "bpm,lpips,dino", "--models", "default", *OUT],
         2, "weight(s) missing",
         env={"HF_HOME": "{dir}/hf", "TORCH_HOME": "{dir}/torch", "BPM_EDIT_WEIGHTS": None},
         check=lambda d, text: all(name in text for name in ("Grounding DINO", "SAM", "CLIP",
                                                             "AlexNet", "DINO ViT-S/16",
                                                             "--models tiny"))),
    Case("WORLD_SIZE without RANK", [*BASE, *TINY, *OUT], 2,
         "WORLD_SIZE is set but RANK is not", env={"WORLD_SIZE": "2"}),
    Case("RANK outside WORLD_SIZE", [*BASE, *TINY, *OUT], 2, "RANK=3 is outside 0..1",
         env={"WORLD_SIZE": "2", "RANK": "3"}),
    Case("a decompression bomb is recorded naming the file",
         ["--dataset", "{dir}/data/bomb.jsonl", "--metrics", "l2", *TINY, *OUT], 0,
         "(1 errors)", setup=_bomb_dataset, check=_bomb_recorded),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_evaluate_contract(case, synthetic, tmp_path, contract, monkeypatch):
    shutil.copytree(synthetic, tmp_path / "data")
    if case.setup is not None:
        case.setup(tmp_path)
    values = {"data": str(tmp_path / "data" / "dataset.jsonl"), "dir": str(tmp_path),
              "image": str(tmp_path / "data" / IMAGE)}
    for name, value in case.env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value.format(**values))
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        if name not in case.env:
            monkeypatch.delenv(name, raising=False)
    argv = [SCRIPT, *(arg.format(**values) for arg in case.argv)]
    inputs = [p for p in tmp_path.iterdir() if p.name != "new.jsonl"]
    try:
        outcome = contract(argv, tmp_path, inputs, case.code, case.message)
        if case.code != 0:
            assert not (tmp_path / "new.jsonl").exists()
        assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == \
            sorted([*(p.name for p in inputs), *(["new.jsonl"] if case.code == 0 else [])])
        if case.check is not None:
            assert case.check(tmp_path, outcome.stderr) is not False, outcome.stderr
    finally:
        _writable_again(tmp_path)


def test_the_catalogue_has_its_cases():
    assert len(CASES) >= 15 and len({case.name for case in CASES}) == len(CASES)
    assert os.path.basename(SCRIPT) == "evaluate.py"
