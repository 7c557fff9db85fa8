"""Model registry: the tiny variant end to end offline, weight loading through the real code
path, SAM embedding cache, choices and device errors. The families' own pieces are
tested in test_build_sam.py and test_clip.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from bpm_edit.devices import DeviceError, resolve_dtype
from bpm_edit.models import grounding_dino, grounding_dino_py
from bpm_edit.models.build_sam import SAM_MODELS, TINY_SAM, build_sam, load_state_dict_file
from bpm_edit.models.clip import (
    ImageTextEncoder,
    OpenClipEncoder,
    build_clip,
    clip_choice,
    load_clip_weights,
)
from bpm_edit.models.detection import Detections, Detector
from bpm_edit.models.registry import WEIGHT_KEYS, architecture_names, load_metric_models
from bpm_edit.models.sam import SamSegmenter, Segmenter
from bpm_edit.models.weights import WEIGHTS_DIR_ENV, WeightsNotFoundError, resolve_weights


def picture(seed: int, size: tuple[int, int] = (80, 60)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def tiny():
    return load_metric_models("tiny")


def seeded_tiny_sam(seed: int):
    torch.manual_seed(seed)
    return build_sam(TINY_SAM)


def seeded_tiny_clip(seed: int):
    torch.manual_seed(seed)
    return build_clip(None)


def test_tiny_variant_builds_and_runs_offline(tiny):
    assert isinstance(tiny.detector, Detector)
    assert isinstance(tiny.segmenter, Segmenter)
    assert isinstance(tiny.encoder, ImageTextEncoder)
    assert tiny.names == {
        "detector": "grounding-dino tiny (transformers)",
        "segmenter": "sam tiny",
        "encoder": "open_clip tiny",
    }
    image = picture(0)
    [detections] = tiny.detector.detect([image], ["cat"])
    assert isinstance(detections, Detections)
    assert detections.boxes.shape[1:] == (4,)
    masks = tiny.segmenter.segment(image, np.array([[10, 5, 40, 30], [0, 0, 80, 60]], np.float32))
    assert masks.shape == (2, 60, 80) and masks.dtype == bool
    images = tiny.encoder.encode_images([image, picture(1)])
    texts = tiny.encoder.encode_texts(["a cat", "a dog"])
    assert images.shape == (2, 32) and texts.shape == (2, 32)
    assert images.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)


def test_tiny_variant_is_deterministic(tiny):
    again = load_metric_models("tiny")
    image = picture(2)
    box = np.array([[5, 5, 50, 40]], np.float32)
    np.testing.assert_array_equal(
        tiny.segmenter.segment(image, box), again.segmenter.segment(image, box)
    )
    np.testing.assert_array_equal(
        tiny.encoder.encode_texts(["tree"]), again.encoder.encode_texts(["tree"])
    )
    np.testing.assert_array_equal(
        tiny.encoder.encode_images([image]), again.encoder.encode_images([image])
    )


def test_sam_weights_load_through_the_registry_path(tmp_path, monkeypatch):
    saved = seeded_tiny_sam(123)
    env = tmp_path / "weights"
    env.mkdir()
    vit_h_spec = SAM_MODELS["vit_h"][1]
    torch.save(saved.state_dict(), env / "sam_vit_h_4b8939.pth")
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(env))
    path = resolve_weights(vit_h_spec, cache_dir=tmp_path / "empty")
    assert path == env / "sam_vit_h_4b8939.pth"
    loaded = seeded_tiny_sam(7)
    load_state_dict_file(loaded, path, vit_h_spec.model)
    for (name, a), (_, b) in zip(
        saved.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    image, box = picture(3), np.array([[8, 4, 60, 50]], np.float32)
    models = load_metric_models("tiny", weights={"sam": path})
    np.testing.assert_array_equal(
        models.segmenter.segment(image, box), SamSegmenter(saved).segment(image, box)
    )


def test_clip_weights_load_through_the_registry_path(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    saved, preprocess, tokenizer = seeded_tiny_clip(321)
    spec = clip_choice("ViT-L-14").weights
    assert spec.repo_id == "timm/vit_large_patch14_clip_224.openai"
    repo_dir = tmp_path / "weights" / "vit_large_patch14_clip_224.openai"
    repo_dir.mkdir(parents=True)
    torch.save(saved.state_dict(), repo_dir / "open_clip_pytorch_model.bin")
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path / "weights"))
    reference = OpenClipEncoder(saved, preprocess, tokenizer)
    image = picture(4)
    for _ in range(2):
        path = resolve_weights(spec, cache_dir=tmp_path / "empty")
        model, _, _ = seeded_tiny_clip(8)
        load_clip_weights(model, path)
        encoder = OpenClipEncoder(model, preprocess, tokenizer)
        np.testing.assert_array_equal(encoder.encode_texts(["x"]), reference.encode_texts(["x"]))
        np.testing.assert_array_equal(
            encoder.encode_images([image]), reference.encode_images([image])
        )
        # The safetensors file is preferred once it exists.
        save_file(saved.state_dict(), str(repo_dir / "open_clip_model.safetensors"))
    assert path.name == "open_clip_model.safetensors"
    models = load_metric_models("tiny", weights={"clip": path})
    np.testing.assert_array_equal(models.encoder.encode_texts(["x"]), reference.encode_texts(["x"]))


def test_missing_tiny_weights_are_a_clear_error(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="file not found"):
        load_metric_models("tiny", weights={"sam": tmp_path / "nope.pth"})


def test_default_variant_offline_names_every_missing_weight(tmp_path, monkeypatch):
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path))
    import huggingface_hub.constants

    # An empty hub cache and torch.hub directory, whatever this machine has cached.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(WeightsNotFoundError) as err:
        load_metric_models("default", clip_model="ViT-B-32", sam_model="vit_b")
    message = str(err.value)
    for expected in (
        "Grounding DINO SwinT-OGC (transformers)",
        "IDEA-Research/grounding-dino-tiny",
        "--detector-weights",
        "SAM vit_b",
        "sam_vit_b_01ec64.pth",
        "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth",
        "--sam-weights",
        "CLIP ViT-B-32 / openai",
        "timm/vit_base_patch32_clip_224.openai",
        "--clip-weights",
    ):
        assert expected in message


def test_choices_are_validated():
    with pytest.raises(
        ValueError, match=r"variant 'huge'; choices: \['default', 'tiny', 'random'\]"
    ):
        load_metric_models("huge")
    with pytest.raises(ValueError, match="detector_backend 'yolo'"):
        load_metric_models("tiny", detector_backend="yolo")
    with pytest.raises(
        ValueError, match=r"sam_model 'vit_x'; choices: \['vit_h', 'vit_l', 'vit_b'\]"
    ):
        architecture_names("random", sam_model="vit_x")
    with pytest.raises(ValueError, match="unknown CLIP architecture 'ViT-Q'"):
        clip_choice("ViT-Q")
    with pytest.raises(ValueError, match="no pretrained tag 'nope'"):
        clip_choice("ViT-B-32/nope")
    with pytest.raises(ValueError, match="unknown key"):
        load_metric_models("tiny", weights={"dino": "x"})
    with pytest.raises(ValueError, match="variant 'random' uses seeded random weights"):
        load_metric_models("random", weights={"sam": "x"})
    with pytest.raises(ValueError, match="dtype 'float8'"):
        resolve_dtype("float8")
    assert resolve_dtype(None) is torch.float32 and resolve_dtype("bfloat16") is torch.bfloat16


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(DeviceError, match="no CUDA GPU is available"):
        load_metric_models("tiny", device="cuda")


def test_random_variant_maps_to_the_real_architectures_without_building():
    assert architecture_names("random") == {
        "detector": "grounding-dino swint-ogc (transformers)",
        "segmenter": "sam vit_h",
        "encoder": "open_clip ViT-L-14",
    }
    assert architecture_names("default", "groundingdino-py", "ViT-B-32", "vit_b") == {
        "detector": "grounding-dino swint-ogc (groundingdino-py)",
        "segmenter": "sam vit_b",
        "encoder": "open_clip ViT-B-32 / openai",
    }
    choice = clip_choice("ViT-L-14")
    assert (choice.architecture, choice.tag, choice.quick_gelu) == ("ViT-L-14", "openai", True)
    assert grounding_dino_py.WEIGHTS.files == ("groundingdino_swint_ogc.pth",)
    assert grounding_dino.WEIGHTS.repo_id == "IDEA-Research/grounding-dino-tiny"
    assert set(WEIGHT_KEYS) == {"clip", "sam", "detector", "detector_tokenizer"}


def test_sam_embedding_cache_is_hit(tiny):
    segmenter = SamSegmenter(tiny.segmenter.sam, cache_size=2)
    first, second, third = picture(10), picture(11), picture(12)
    box = np.array([[4, 4, 40, 40]], np.float32)
    masks = segmenter.segment(first, box)
    segmenter.segment(first, np.array([[0, 0, 20, 20]], np.float32))
    segmenter.segment(first.copy(), box)  # same pixels, another object: still a hit
    assert segmenter.encoder_calls == 1
    segmenter.segment(second, box)
    segmenter.segment(third, box)  # evicts `first` (cache of 2)
    assert segmenter.encoder_calls == 3
    np.testing.assert_array_equal(segmenter.segment(first, box), masks)
    assert segmenter.encoder_calls == 4
    segmenter.segment(first, np.zeros((0, 4)))  # no boxes: no work at all
    assert segmenter.encoder_calls == 4


def test_sam_boxes_batched_equal_one_by_one(tiny):
    segmenter = tiny.segmenter
    image = picture(13, size=(90, 70))
    boxes = np.array([[5, 5, 45, 35], [30, 20, 90, 70], [0, 0, 10, 10]], np.float32)
    together = segmenter.segment(image, boxes)
    assert together.shape == (3, 70, 90)
    for i, box in enumerate(boxes):
        np.testing.assert_array_equal(segmenter.segment(image, box[None])[0], together[i])
    assert segmenter.segment(image, np.zeros((0, 4))).shape == (0, 70, 90)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        segmenter.segment(image, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        segmenter.segment(image, np.array([[0, 0, np.nan, 4]]))
