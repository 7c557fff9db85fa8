"""Weight resolution: explicit path > $BPM_EDIT_WEIGHTS > hub / URL cache, one clear error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bpm_edit.models.weights import (
    WEIGHTS_DIR_ENV,
    WeightsNotFoundError,
    WeightSpec,
    resolve_weights,
)

URL_SPEC = WeightSpec(
    model="SAM vit_b (segment-anything)",
    files=("sam_vit_b_01ec64.pth",),
    key="sam",
    flag="--sam-weights",
    url="https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth",
)
HUB_SPEC = WeightSpec(
    model="CLIP ViT-B-32 / openai (open_clip)",
    files=("open_clip_model.safetensors", "open_clip_pytorch_model.bin"),
    key="clip",
    flag="--clip-weights",
    repo_id="timm/vit_base_patch32_clip_224.openai",
)
DIR_SPEC = WeightSpec(
    model="Grounding DINO SwinT-OGC (transformers)",
    files=("config.json", "model.safetensors"),
    key="detector",
    flag="--detector-weights",
    repo_id="IDEA-Research/grounding-dino-tiny",
    directory=True,
)


def write(path: Path, text: str = "w") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def hub_cache(root: Path, repo_id: str, files: dict[str, str], commit: str = "a" * 40) -> Path:
    """A directory laid out like huggingface_hub's cache holding `files` of `repo_id`."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    write(repo / "refs" / "main", commit)
    snapshot = repo / "snapshots" / commit
    for name, text in files.items():
        write(snapshot / name, text)
    return snapshot


@pytest.fixture(autouse=True)
def no_weights_dir(monkeypatch):
    monkeypatch.delenv(WEIGHTS_DIR_ENV, raising=False)


def test_explicit_path_wins_over_env_dir_and_cache(tmp_path, monkeypatch):
    explicit = write(tmp_path / "mine" / "any_name.pth", "explicit")
    env = tmp_path / "env"
    write(env / "sam_vit_b_01ec64.pth", "env")
    write(tmp_path / "cache" / "sam_vit_b_01ec64.pth", "cache")
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(env))
    found = resolve_weights(URL_SPEC, explicit, cache_dir=tmp_path / "cache")
    assert found == explicit


def test_explicit_directory_holding_the_file(tmp_path):
    write(tmp_path / "open_clip_pytorch_model.bin")
    write(tmp_path / "open_clip_model.safetensors")
    # Alternatives are taken in the spec's order of preference.
    assert resolve_weights(HUB_SPEC, tmp_path) == tmp_path / "open_clip_model.safetensors"


def test_explicit_path_without_the_weights_is_an_error_not_skipped(tmp_path, monkeypatch):
    env = tmp_path / "env"
    write(env / "sam_vit_b_01ec64.pth")
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(env))
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights(URL_SPEC, tmp_path / "missing.pth")
    message = str(err.value)
    assert "SAM vit_b" in message and "--sam-weights" in message
    assert "missing.pth" in message and "sam_vit_b_01ec64.pth" in message


def test_env_dir_layouts(tmp_path, monkeypatch):
    env = tmp_path / "env"
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(env))
    # URL files sit at the top level.
    url_file = write(env / "sam_vit_b_01ec64.pth")
    assert resolve_weights(URL_SPEC, cache_dir=tmp_path / "empty") == url_file
    # Hub files sit under the repo name; the generic name at the top level is ignored.
    write(env / "open_clip_model.safetensors")
    with pytest.raises(WeightsNotFoundError):
        resolve_weights(HUB_SPEC, cache_dir=tmp_path / "empty")
    hub_file = write(env / "vit_base_patch32_clip_224.openai" / "open_clip_pytorch_model.bin")
    assert resolve_weights(HUB_SPEC, cache_dir=tmp_path / "empty") == hub_file


def test_flat_hub_file_in_env_dir(tmp_path, monkeypatch):
    spec = WeightSpec(
        model="Grounding DINO (groundingdino-py)",
        files=("groundingdino_swint_ogc.pth",),
        key="detector",
        flag="--detector-weights",
        repo_id="ShilongLiu/GroundingDINO",
        flat=True,
    )
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path))
    flat = write(tmp_path / "groundingdino_swint_ogc.pth")
    assert resolve_weights(spec, cache_dir=tmp_path / "empty") == flat
    nested = write(tmp_path / "GroundingDINO" / "groundingdino_swint_ogc.pth")
    assert resolve_weights(spec, cache_dir=tmp_path / "empty") == nested


def test_directory_spec_needs_every_file(tmp_path, monkeypatch):
    env = tmp_path / "env"
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(env))
    write(env / "grounding-dino-tiny" / "config.json")
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights(DIR_SPEC, cache_dir=tmp_path / "empty")
    assert "config.json, model.safetensors" in str(err.value)
    write(env / "grounding-dino-tiny" / "model.safetensors")
    assert resolve_weights(DIR_SPEC, cache_dir=tmp_path / "empty") == env / "grounding-dino-tiny"
    with pytest.raises(WeightsNotFoundError, match="--detector-weights"):
        resolve_weights(DIR_SPEC, env / "grounding-dino-tiny" / "config.json")


def test_hub_cache_file_and_snapshot(tmp_path):
    cache = tmp_path / "hub"
    snapshot = hub_cache(cache, HUB_SPEC.repo_id, {"open_clip_pytorch_model.bin": "bin"})
    found = resolve_weights(HUB_SPEC, cache_dir=cache)
    assert found == snapshot / "open_clip_pytorch_model.bin"
    assert found.read_text() == "bin"
    dino = hub_cache(cache, DIR_SPEC.repo_id, {"config.json": "{}", "model.safetensors": "x"})
    assert resolve_weights(DIR_SPEC, cache_dir=cache) == dino


def test_env_dir_wins_over_hub_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    hub_cache(cache, HUB_SPEC.repo_id, {"open_clip_model.safetensors": "cache"})
    env_file = write(
        tmp_path / "env" / "vit_base_patch32_clip_224.openai" / "open_clip_model.safetensors"
    )
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path / "env"))
    assert resolve_weights(HUB_SPEC, cache_dir=cache) == env_file


def test_url_cache(tmp_path):
    cached = write(tmp_path / "checkpoints" / "sam_vit_b_01ec64.pth")
    assert resolve_weights(URL_SPEC, cache_dir=tmp_path / "checkpoints") == cached


@pytest.mark.parametrize("spec", [URL_SPEC, HUB_SPEC, DIR_SPEC], ids=["url", "hub", "dir"])
def test_offline_missing_weight_fails_fast_with_one_clear_error(tmp_path, spec):
    start = time.perf_counter()
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights(spec, cache_dir=tmp_path / "empty")
    assert time.perf_counter() - start < 5.0
    message = str(err.value)
    assert spec.model in message
    assert spec.files[0] in message
    assert (spec.url or spec.repo_id) in message
    assert spec.flag in message and f"weights={{'{spec.key}': PATH}}" in message
    assert WEIGHTS_DIR_ENV in message and "offline" in message
    assert isinstance(err.value, FileNotFoundError)


def test_spec_validation():
    with pytest.raises(ValueError, match="exactly one of repo_id and url"):
        WeightSpec("m", ("f",), "k", "--f")
    with pytest.raises(ValueError, match="exactly one of repo_id and url"):
        WeightSpec("m", ("f",), "k", "--f", repo_id="a/b", url="https://x/f")
    with pytest.raises(ValueError, match="at least one file"):
        WeightSpec("m", (), "k", "--f", repo_id="a/b")


def test_cache_is_used_before_any_download_when_online(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    cache = tmp_path / "hub"
    snapshot = hub_cache(cache, HUB_SPEC.repo_id, {"open_clip_pytorch_model.bin": "bin"})
    dino = hub_cache(cache, DIR_SPEC.repo_id, {"config.json": "{}", "model.safetensors": "x"})
    assert resolve_weights(HUB_SPEC, cache_dir=cache) == snapshot / "open_clip_pytorch_model.bin"
    assert resolve_weights(DIR_SPEC, cache_dir=cache) == dino
    url_file = write(tmp_path / "checkpoints" / "sam_vit_b_01ec64.pth")
    assert resolve_weights(URL_SPEC, cache_dir=tmp_path / "checkpoints") == url_file
