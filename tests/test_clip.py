"""The open_clip family (`bpm_edit.models.clip`): building a named architecture with its
tag's settings, strict checkpoint loading, the one CLIP loader, and the text cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from bpm_edit.models.clip import (
    TINY_CLIP_CONFIG,
    ClipChoice,
    OpenClipEncoder,
    build_clip,
    clip_choice,
    load_clip_encoder,
    load_clip_weights,
)


def picture(seed: int, size: tuple[int, int] = (80, 60)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def seeded_tiny_clip(seed: int):
    torch.manual_seed(seed)
    return build_clip(None)


def test_open_clip_named_architecture_path(tmp_path):
    """The path real CLIPs take (open_clip config name, tag settings, checkpoint file),
    on a tiny config registered with open_clip under a name of its own."""
    import json

    import open_clip

    config = tmp_path / "bpm-test-tiny-clip.json"
    config.write_text(json.dumps(TINY_CLIP_CONFIG))
    open_clip.add_model_config(config)
    settings = {"mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25), "interpolation": "bicubic"}
    choice = ClipChoice(
        "bpm-test-tiny-clip", "test", clip_choice("ViT-B-32").weights, True, settings
    )
    torch.manual_seed(0)
    model, preprocess, tokenizer = build_clip(choice)
    assert any(type(m).__name__ == "QuickGELU" for m in model.modules())
    normalize = preprocess.transforms[-1]
    assert tuple(normalize.mean) == (0.5, 0.5, 0.5) and tuple(normalize.std) == (0.25, 0.25, 0.25)
    path = tmp_path / "open_clip_pytorch_model.bin"
    torch.save(model.state_dict(), path)
    torch.manual_seed(1)
    other, _, _ = build_clip(choice)
    load_clip_weights(other, path)
    image = picture(5)
    np.testing.assert_array_equal(
        OpenClipEncoder(other, preprocess, tokenizer).encode_images([image]),
        OpenClipEncoder(model, preprocess, tokenizer).encode_images([image]),
    )


def test_clip_text_cache_hits():
    model, preprocess, tokenizer = seeded_tiny_clip(5)
    encoder = OpenClipEncoder(model, preprocess, tokenizer, text_cache_size=2)
    first = encoder.encode_texts(["cat", "dog", "cat"])
    assert encoder.text_cache_info() == {"hits": 1, "misses": 2, "size": 2}
    np.testing.assert_array_equal(first[0], first[2])
    again = encoder.encode_texts(["dog", "cat"])
    assert encoder.text_cache_info() == {"hits": 3, "misses": 2, "size": 2}
    np.testing.assert_array_equal(again, first[[1, 0]])
    encoder.encode_texts(["bird"])  # evicts the least recently used ("dog")
    encoder.encode_texts(["dog"])
    assert encoder.text_cache_info() == {"hits": 3, "misses": 4, "size": 2}
    fresh = OpenClipEncoder(model, preprocess, tokenizer).encode_texts(["cat"])
    np.testing.assert_allclose(fresh[0], first[0], atol=1e-6)
    assert encoder.encode_texts([]).shape == (0, 32)
    assert encoder.encode_images([]).shape == (0, 32)
    with pytest.raises(TypeError, match="item 0"):
        encoder.encode_texts([3])


def test_load_clip_encoder_is_the_seeded_build_plus_weights(tmp_path):
    """The one loader: seeded like a manual build, the caller's random state untouched,
    and a checkpoint replaces the seeded weights."""
    model, preprocess, tokenizer = seeded_tiny_clip(0)
    reference = OpenClipEncoder(model, preprocess, tokenizer)
    torch.manual_seed(99)
    state = torch.random.get_rng_state()
    encoder = load_clip_encoder(None, None, torch.device("cpu"), torch.float32, seed=0)
    assert torch.equal(torch.random.get_rng_state(), state)
    image = picture(6)
    np.testing.assert_array_equal(encoder.encode_images([image]), reference.encode_images([image]))
    other, _, _ = seeded_tiny_clip(7)
    path = tmp_path / "clip.bin"
    torch.save(other.state_dict(), path)
    loaded = load_clip_encoder(None, path, torch.device("cpu"), torch.float32, seed=0)
    np.testing.assert_array_equal(
        loaded.encode_texts(["x"]),
        OpenClipEncoder(other, preprocess, tokenizer).encode_texts(["x"]),
    )
