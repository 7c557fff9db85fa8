"""How a segment-anything model is built: its sizes, its weights, and the strict loading.

In the spirit of segment-anything's own `build_sam.py`: `SAM_MODELS` maps a name
(``vit_h``, ``vit_l``, ``vit_b``) to its `SamArchitecture` and the `WeightSpec` of the
released checkpoint; `TINY_SAM` is a small architecture for tests; `build_sam` builds an
untrained model of given sizes and `load_state_dict_file` loads a checkpoint into it.
`bpm_edit.models.sam.SamSegmenter` runs the built model; `bpm_edit.models.registry`
assembles it with the other models.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bpm_edit.errors import WeightsError
from bpm_edit.models.weights import WEIGHT_KEYS, WeightSpec

_SAM_URL = "https://dl.fbaipublicfiles.com/segment_anything/"


@dataclass(frozen=True)
class SamArchitecture:
    """Sizes of a segment-anything model (encoder ViT, prompt encoder, mask decoder)."""

    encoder_embed_dim: int
    encoder_depth: int
    encoder_num_heads: int
    encoder_global_attn_indexes: tuple[int, ...]
    image_size: int = 1024
    patch_size: int = 16
    window_size: int = 14
    prompt_embed_dim: int = 256
    mask_in_chans: int = 16
    decoder_mlp_dim: int = 2048
    decoder_num_heads: int = 8
    iou_head_hidden_dim: int = 256


def _sam_spec(name: str, file: str) -> WeightSpec:
    return WeightSpec(
        model=f"SAM {name} (segment-anything)",
        files=(file,),
        key="sam",
        flag=WEIGHT_KEYS["sam"],
        url=_SAM_URL + file,
    )


#: name -> (architecture, weights); sizes as segment-anything's `build_sam.py`.
SAM_MODELS: dict[str, tuple[SamArchitecture, WeightSpec]] = {
    "vit_h": (
        SamArchitecture(1280, 32, 16, (7, 15, 23, 31)),
        _sam_spec("vit_h", "sam_vit_h_4b8939.pth"),
    ),
    "vit_l": (
        SamArchitecture(1024, 24, 16, (5, 11, 17, 23)),
        _sam_spec("vit_l", "sam_vit_l_0b3195.pth"),
    ),
    "vit_b": (
        SamArchitecture(768, 12, 12, (2, 5, 8, 11)),
        _sam_spec("vit_b", "sam_vit_b_01ec64.pth"),
    ),
}
#: A SAM small enough for tests: 64 px input, 2 encoder blocks, 32-dim prompts.
TINY_SAM = SamArchitecture(
    encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2, encoder_global_attn_indexes=(1,),
    image_size=64, patch_size=8, window_size=4, prompt_embed_dim=32, mask_in_chans=4,
    decoder_mlp_dim=64, decoder_num_heads=2, iou_head_hidden_dim=32,
)  # fmt: skip


def build_sam(architecture: SamArchitecture):
    """An untrained `segment_anything.modeling.Sam` of the given sizes, in eval mode."""
    import torch
    from segment_anything.modeling import (
        ImageEncoderViT,
        MaskDecoder,
        PromptEncoder,
        Sam,
        TwoWayTransformer,
    )

    a = architecture
    grid = a.image_size // a.patch_size
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=a.encoder_depth, embed_dim=a.encoder_embed_dim, img_size=a.image_size,
            mlp_ratio=4, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=a.encoder_num_heads, patch_size=a.patch_size, qkv_bias=True,
            use_rel_pos=True, global_attn_indexes=a.encoder_global_attn_indexes,
            window_size=a.window_size, out_chans=a.prompt_embed_dim,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=a.prompt_embed_dim, image_embedding_size=(grid, grid),
            input_image_size=(a.image_size, a.image_size), mask_in_chans=a.mask_in_chans,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=2, embedding_dim=a.prompt_embed_dim, mlp_dim=a.decoder_mlp_dim,
                num_heads=a.decoder_num_heads,
            ),
            transformer_dim=a.prompt_embed_dim, iou_head_depth=3,
            iou_head_hidden_dim=a.iou_head_hidden_dim,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )  # fmt: skip
    return sam.eval()


def load_state_dict_file(module, path: Path, model: str) -> None:
    """Load a `torch.save`d state dict (optionally under "state_dict"/"model") strictly.

    Key or shape mismatches are one error naming the file and the model, since they
    mean the file belongs to another architecture.
    """
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise WeightsError(f"{model}: cannot read weights file {path}: {err}") from err
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise WeightsError(f"{model}: {path} does not hold a state dict ({type(state).__name__})")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise WeightsError(
            f"{model}: weights file {path} does not fit the architecture: {err}"
        ) from err
