"""The SAM family (`bpm_edit.models.build_sam`): segment-anything's sizes, the released
checkpoints' specs, and strict state-dict loading."""

from __future__ import annotations

import pytest
import torch

from bpm_edit.models.build_sam import SAM_MODELS, TINY_SAM, build_sam, load_state_dict_file


def test_architectures_match_segment_anything():
    vit_h, spec = SAM_MODELS["vit_h"]
    assert (vit_h.encoder_embed_dim, vit_h.encoder_depth, vit_h.encoder_num_heads) == (1280, 32, 16)
    assert spec.url == "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth"
    assert (spec.key, spec.flag) == ("sam", "--sam-weights")
    assert list(SAM_MODELS) == ["vit_h", "vit_l", "vit_b"]


def test_state_dict_round_trip_and_architecture_mismatch(tmp_path):
    torch.manual_seed(0)
    saved = build_sam(TINY_SAM)
    path = tmp_path / "sam.pth"
    torch.save({"model": saved.state_dict()}, path)  # a wrapped state dict is unwrapped
    torch.manual_seed(1)
    loaded = build_sam(TINY_SAM)
    load_state_dict_file(loaded, path, "SAM tiny")
    for (name, a), (_, b) in zip(
        saved.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    wrong = tmp_path / "sam_vit_b_01ec64.pth"
    torch.save({"image_encoder.pos_embed": torch.zeros(1)}, wrong)
    with pytest.raises(RuntimeError, match="sam_vit_b_01ec64.pth does not fit the architecture"):
        load_state_dict_file(loaded, wrong, "SAM vit_b")
