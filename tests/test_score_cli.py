"""`bpm-edit score`: one JSON object on stdout, masks, --spec, --out report, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from synthetic_scenes import moved_square

from bpm_edit.cli import main
from bpm_edit.result import RESULT_KEYS
from bpm_edit.spec import EditSpec

REQUIRED_KEYS = {"s_modify", "s_preserve", "s_size", "s_position", "s_semantic", "s_region",
                 "bpm", "flags", "spec"}


@pytest.fixture(scope="module")
def scene_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scene")
    scene = moved_square(60, 0)
    paths = {name: folder / f"{name}.png" for name in ("original", "edited", "mask_o", "mask_e")}
    Image.fromarray(scene.original).save(paths["original"])
    Image.fromarray(scene.edited).save(paths["edited"])
    Image.fromarray(scene.mask_original.astype(np.uint8) * 255).save(paths["mask_o"])
    Image.fromarray(scene.mask_edited.astype(np.uint8)).save(paths["mask_e"])  # 0/1 values
    spec = EditSpec("move", "red square", "red square", position_change="right",
                    instruction="move the red square to the right")
    paths["spec"] = folder / "spec.json"
    paths["spec"].write_text(json.dumps(spec.to_dict()))
    return paths


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["score", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_score_with_masks_and_spec_writes_report(scene_files, capsys, tmp_path) -> None:
    """Oracle masks: the square moved 60 px right, as asked: S_position = 1, S_size = 1,
    and the background is untouched outside the union of the masks: S_preserve = 1."""
    out = tmp_path / "report"
    code, stdout, _ = run_cli(
        capsys, "--original", str(scene_files["original"]), "--edited",
        str(scene_files["edited"]), "--spec", str(scene_files["spec"]),
        "--mask-original", str(scene_files["mask_o"]), "--mask-edited",
        str(scene_files["mask_e"]), "--models", "tiny", "--out", str(out))
    assert code == 0
    data = json.loads(stdout)
    assert REQUIRED_KEYS <= set(data) and tuple(data) == RESULT_KEYS
    assert (data["s_position"], data["s_size"], data["s_preserve"]) == (1.0, 1.0, 1.0)
    assert "masks_given" in data["flags"]
    assert data["spec"]["position_change"] == "right"
    assert json.loads((out / "result.json").read_text()) == data
    with Image.open(out / "report.png") as report:
        assert report.width > 600 and report.height > 500


def test_score_with_tiny_detection(scene_files, capsys) -> None:
    code, stdout, _ = run_cli(
        capsys, "--original", str(scene_files["original"]), "--edited",
        str(scene_files["edited"]), "--spec", str(scene_files["spec"]), "--models", "tiny")
    assert code == 0
    data = json.loads(stdout)
    assert np.isfinite(data["bpm"]) and "masks_given" not in data["flags"]
    assert data["timings"]["localize"] > 0


def test_bad_input_is_one_line_error(scene_files, capsys, tmp_path) -> None:
    base = ["--original", str(scene_files["original"]), "--spec", str(scene_files["spec"]),
            "--models", "tiny"]
    code, stdout, stderr = run_cli(capsys, *base, "--edited", str(tmp_path / "nope.png"))
    assert code == 2 and stdout == "" and "--edited: file not found" in stderr
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG garbage")
    code, _, stderr = run_cli(capsys, *base, "--edited", str(corrupt))
    assert code == 2 and "cannot read" in stderr
    small_mask = tmp_path / "small.png"
    Image.new("L", (10, 10), 255).save(small_mask)
    code, _, stderr = run_cli(capsys, *base, "--edited", str(scene_files["edited"]),
                              "--mask-original", str(small_mask))
    assert code == 2 and "--mask-original: mask is 10x10 but the image is 200x200" in stderr
    bad_spec = tmp_path / "bad.json"
    bad_spec.write_text('{"edit_type": "teleport"}')
    code, _, stderr = run_cli(capsys, "--original", str(scene_files["original"]), "--edited",
                              str(scene_files["edited"]), "--spec", str(bad_spec))
    assert code == 2 and "bad.json" in stderr and "edit_type" in stderr
    bad_spec.write_text("{not json")
    code, _, stderr = run_cli(capsys, "--original", str(scene_files["original"]), "--edited",
                              str(scene_files["edited"]), "--spec", str(bad_spec))
    assert code == 2 and "not valid JSON" in stderr


def test_mask_covering_the_image_is_flagged(scene_files, capsys, tmp_path) -> None:
    full = tmp_path / "full.png"
    Image.new("L", (200, 200), 255).save(full)
    code, stdout, _ = run_cli(
        capsys, "--original", str(scene_files["original"]), "--edited",
        str(scene_files["edited"]), "--spec", str(scene_files["spec"]), "--mask-original",
        str(full), "--mask-edited", str(scene_files["mask_e"]), "--models", "tiny")
    data = json.loads(stdout)
    assert code == 0 and data["s_preserve"] is None
    assert "preserve_undefined_mask_covers_image" in data["flags"]
    assert "semantic_from_modify_only" in data["flags"]


def test_edited_image_of_another_size_with_its_own_mask(scene_files, capsys, tmp_path) -> None:
    """A 100x100 edited image with a 100x100 mask: both are brought to the original's
    200x200 grid (bicubic image, nearest mask) and flagged."""
    edited = tmp_path / "small.png"
    mask = tmp_path / "small_mask.png"
    with Image.open(scene_files["edited"]) as image:
        image.resize((100, 100), Image.Resampling.NEAREST).save(edited)
    with Image.open(scene_files["mask_e"]) as image:
        image.resize((100, 100), Image.Resampling.NEAREST).save(mask)
    argv = ["--original", str(scene_files["original"]), "--edited", str(edited), "--spec",
            str(scene_files["spec"]), "--mask-original", str(scene_files["mask_o"]),
            "--models", "tiny"]
    code, stdout, _ = run_cli(capsys, *argv, "--mask-edited", str(mask))
    data = json.loads(stdout)
    assert code == 0
    assert {"edited_resized", "mask_edited_resized"} <= set(data["flags"])
    assert data["regions"]["target"]["boxes"] == [[140.0, 80.0, 180.0, 120.0]]
    assert data["s_position"] == 1.0
    wrong = tmp_path / "wrong.png"
    Image.new("L", (30, 30), 255).save(wrong)
    code, _, stderr = run_cli(capsys, *argv, "--mask-edited", str(wrong))
    assert code == 2 and "nor the edited image's 100x100" in stderr


def test_spec_printed_by_parse_is_accepted(scene_files, capsys, tmp_path) -> None:
    assert main(["parse", "move the red square to the right"]) == 0
    spec_file = tmp_path / "parsed.json"
    spec_file.write_text(capsys.readouterr().out)
    code, stdout, _ = run_cli(
        capsys, "--original", str(scene_files["original"]), "--edited",
        str(scene_files["edited"]), "--spec", str(spec_file), "--mask-original",
        str(scene_files["mask_o"]), "--mask-edited", str(scene_files["mask_e"]),
        "--models", "tiny")
    data = json.loads(stdout)
    assert code == 0 and data["spec"] == json.loads(spec_file.read_text())
    assert data["s_position"] == 1.0


def test_speed_options_reach_the_models(scene_files, capsys, monkeypatch) -> None:
    """--sam-dtype / --detection-size go to load_metric_models; a bad size is one error."""
    import bpm_edit.models.registry as registry

    seen: dict = {}
    real = registry.load_metric_models

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(registry, "load_metric_models", spy)
    base = ["--original", str(scene_files["original"]), "--edited", str(scene_files["edited"]),
            "--spec", str(scene_files["spec"]), "--models", "tiny"]
    code, stdout, _ = run_cli(capsys, *base, "--sam-dtype", "bfloat16", "--detection-size", "96")
    assert code == 0 and np.isfinite(json.loads(stdout)["bpm"])
    assert (seen["sam_dtype"], seen["detection_size"]) == ("bfloat16", 96)
    code, _, stderr = run_cli(capsys, *base, "--detection-size", "0")
    assert code == 2 and "--detection-size must be a positive int" in stderr
