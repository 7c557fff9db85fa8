"""The original Grounding DINO model (``groundingdino-py``) assembled offline on transformers 5.

groundingdino-py 0.4.0 wraps BERT in `BertModelWarper`, which calls
`BertModel.get_extended_attention_mask` / `get_head_mask`; transformers 5 removed both, so
the package's `build_model` fails. `BertTextEncoder` replaces the warper: it holds the same
`embeddings` / `encoder` / `pooler` submodules (so the original checkpoint's ``bert.*`` keys
load unchanged) and builds the 4-D additive attention mask itself, with the maths of
transformers 4's `get_extended_attention_mask`: a 2-D padding mask ``(B, T)`` becomes
``(1 - mask)[:, None, None, :] * finfo(dtype).min``, the 3-D text self-attention mask
``(B, T, T)`` that Grounding DINO builds between the caption's "."-separated phrases becomes
``(1 - mask)[:, None, :, :] * finfo(dtype).min``.

The package's `GroundingDINO.__init__` also fetches its tokenizer and BERT by name from the
hub. `OfflineGroundingDINO` is the same model (the package's `forward`, the same
submodules, parameter names and initialisation order) with the tokenizer and the text
encoder passed in; `build_groundingdino_model` assembles it from the package's Swin,
position encoding and transformer, with BERT from a `BertConfig` (random weights, seeded by
the caller; the real ones are in the checkpoint). Gradient checkpointing is off.
"""

from __future__ import annotations

import copy
import warnings
from types import SimpleNamespace

import torch
from torch import nn

from bpm_edit.errors import ConfigError
from bpm_edit.models.grounding_dino_common import (
    BERT_BASE_VOCAB_SIZE,
    MAX_TEXT_LEN,
    wordpiece_vocab,
)

with warnings.catch_warnings():  # the 2023 package imports the deprecated timm.models.layers
    warnings.filterwarnings("ignore", message=r"Importing from timm\.models\.layers")
    from groundingdino.models.GroundingDINO.groundingdino import GroundingDINO
    from groundingdino.models.GroundingDINO.utils import MLP, ContrastiveEmbed


def extended_attention_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The additive attention mask transformers 4's `get_extended_attention_mask` built for
    an encoder: 0 where attention is allowed, ``finfo(dtype).min`` where it is masked.

    `attention_mask` is ``(B, T)`` (1 = real token) or ``(B, T, T)`` (query x key, 1 =
    may attend); the result broadcasts over heads: ``(B, 1, 1, T)`` or ``(B, 1, T, T)``.
    """
    if attention_mask.dim() == 2:
        extended = attention_mask[:, None, None, :]
    elif attention_mask.dim() == 3:
        extended = attention_mask[:, None, :, :]
    else:
        raise ValueError(
            f"attention_mask must be (batch, tokens) or (batch, tokens, tokens), "
            f"got shape {tuple(attention_mask.shape)}"
        )
    return (1.0 - extended.to(dtype)) * torch.finfo(dtype).min


class BertTextEncoder(nn.Module):
    """Drop-in replacement for groundingdino's `BertModelWarper` on transformers 5.

    Same submodule names as the warper (``embeddings``, ``encoder``, ``pooler``), hence the
    same state-dict keys under ``bert.``. Only what Grounding DINO uses is supported: an
    encoder (no decoder, no cache, no head mask).
    """

    def __init__(self, bert_model: nn.Module) -> None:
        super().__init__()
        self.config = bert_model.config
        if self.config.is_decoder:
            raise ValueError("BertTextEncoder supports encoder BERT models only (is_decoder=False)")
        self.embeddings = bert_model.embeddings
        self.encoder = bert_model.encoder
        self.pooler = bert_model.pooler

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ):
        from transformers.modeling_outputs import BaseModelOutputWithPoolingAndCrossAttentions

        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        hidden = self.embeddings(
            input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids
        )
        mask = extended_attention_mask(attention_mask, hidden.dtype)
        sequence = self.encoder(hidden, attention_mask=mask).last_hidden_state
        pooled = self.pooler(sequence) if self.pooler is not None else None
        return BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=sequence, pooler_output=pooled
        )


def groundingdino_args(architecture: str) -> SimpleNamespace:
    """Build arguments: the package's ``GroundingDINO_SwinT_OGC`` config ("swint-ogc"), or a
    small model with the same structure ("tiny"); checkpointing off."""
    from groundingdino.config import GroundingDINO_SwinT_OGC as swint_ogc

    args = {k: v for k, v in vars(swint_ogc).items() if not k.startswith("_")}
    args.update(use_checkpoint=False, use_transformer_ckpt=False)
    swin = dict(embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=7)
    bert = dict(vocab_size=BERT_BASE_VOCAB_SIZE)  # bert-base-uncased sizes
    if architecture == "tiny":
        swin = dict(embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=7)
        bert = dict(
            vocab_size=len(wordpiece_vocab()), hidden_size=32, num_hidden_layers=1,
            num_attention_heads=2, intermediate_size=64, max_position_embeddings=MAX_TEXT_LEN,
        )  # fmt: skip
        # The original code hard-codes 256 for the text position embedding: d_model stays.
        args.update(
            dim_feedforward=64, enc_layers=1, dec_layers=2, num_queries=20,
            enc_n_points=2, dec_n_points=2,
        )  # fmt: skip
    elif architecture != "swint-ogc":
        raise ConfigError(f"unknown architecture {architecture!r}; expected 'swint-ogc' or 'tiny'")
    return SimpleNamespace(**args, swin=swin, bert=bert)


class OfflineGroundingDINO(GroundingDINO):
    """groundingdino's `GroundingDINO` with its tokenizer and text encoder passed in.

    `__init__` is the package's, less its two hub look-ups (`get_tokenlizer`,
    `get_pretrained_language_model`) and `BertModelWarper`: `text_encoder` (a
    `BertTextEncoder`) takes their place. The remaining modules are created in the
    package's order, so a seeded build draws the same random weights; `forward` is the
    package's. `args` are the build arguments of `groundingdino_args`. Inference only:
    denoising training (`dn_number`) is off, as in the package's `build_groundingdino`.
    """

    def __init__(
        self, backbone: nn.Module, transformer: nn.Module, tokenizer, text_encoder: nn.Module,
        args: SimpleNamespace,
    ) -> None:  # fmt: skip
        nn.Module.__init__(self)  # not GroundingDINO.__init__: that one loads from the hub
        self.num_queries = args.num_queries
        self.transformer = transformer
        self.hidden_dim = hidden_dim = transformer.d_model
        self.num_feature_levels = args.num_feature_levels
        self.nheads = args.nheads
        self.max_text_len = 256  # hard-coded by the package whatever args.max_text_len says
        self.sub_sentence_present = args.sub_sentence_present
        self.query_dim = 4
        self.num_patterns = args.num_patterns
        self.dn_number = 0
        self.dn_box_noise_scale = args.dn_box_noise_scale
        self.dn_label_noise_ratio = args.dn_label_noise_ratio
        self.dn_labelbook_size = args.dn_labelbook_size
        self.tokenizer = tokenizer
        text_encoder.pooler.dense.weight.requires_grad_(False)
        text_encoder.pooler.dense.bias.requires_grad_(False)
        self.bert = text_encoder
        self.feat_map = nn.Linear(text_encoder.config.hidden_size, hidden_dim, bias=True)
        nn.init.constant_(self.feat_map.bias.data, 0)
        nn.init.xavier_uniform_(self.feat_map.weight.data)
        self.specical_tokens = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", ".", "?"])
        self.input_proj = _input_projections(backbone.num_channels, hidden_dim, args)
        self.backbone = backbone
        self.aux_loss = True
        self.box_pred_damping = None
        self.iter_update = True
        self.dec_pred_bbox_embed_share = share = args.dec_pred_bbox_embed_share
        class_embed = ContrastiveEmbed()
        bbox_embed = MLP(hidden_dim, hidden_dim, 4, 3)
        nn.init.constant_(bbox_embed.layers[-1].weight.data, 0)
        nn.init.constant_(bbox_embed.layers[-1].bias.data, 0)
        layers = transformer.num_decoder_layers
        boxes = [bbox_embed if share else copy.deepcopy(bbox_embed) for _ in range(layers)]
        self.bbox_embed = nn.ModuleList(boxes)
        self.class_embed = nn.ModuleList([class_embed for _ in range(layers)])
        self.transformer.decoder.bbox_embed = self.bbox_embed
        self.transformer.decoder.class_embed = self.class_embed
        self.two_stage_type = args.two_stage_type
        if self.two_stage_type not in ("no", "standard"):
            raise ValueError(f"unknown two_stage_type {self.two_stage_type!r}")
        if self.two_stage_type != "no":
            for shared, module, name in (
                (args.two_stage_bbox_embed_share, bbox_embed, "enc_out_bbox_embed"),
                (args.two_stage_class_embed_share, class_embed, "enc_out_class_embed"),
            ):
                if shared and not share:
                    raise ValueError("two-stage embed sharing needs dec_pred_bbox_embed_share")
                setattr(self.transformer, name, module if shared else copy.deepcopy(module))
            self.refpoint_embed = None
        self._reset_parameters()


def _input_projections(channels, hidden_dim: int, args: SimpleNamespace) -> nn.ModuleList:
    """The package's input projections: a 1x1 conv per backbone level, then stride-2 3x3
    convs up to `num_feature_levels`, each followed by GroupNorm(32)."""
    if args.num_feature_levels == 1:
        if args.two_stage_type != "no":
            raise ValueError("two_stage_type should be 'no' if num_feature_levels=1")
        conv = nn.Conv2d(channels[-1], hidden_dim, kernel_size=1)
        return nn.ModuleList([nn.Sequential(conv, nn.GroupNorm(32, hidden_dim))])
    projections = []
    for in_channels in channels:
        conv = nn.Conv2d(in_channels, hidden_dim, kernel_size=1)
        projections.append(nn.Sequential(conv, nn.GroupNorm(32, hidden_dim)))
    in_channels = channels[-1]
    for _ in range(args.num_feature_levels - len(channels)):
        conv = nn.Conv2d(in_channels, hidden_dim, kernel_size=3, stride=2, padding=1)
        projections.append(nn.Sequential(conv, nn.GroupNorm(32, hidden_dim)))
        in_channels = hidden_dim
    return nn.ModuleList(projections)


def build_groundingdino_model(args: SimpleNamespace, tokenizer) -> OfflineGroundingDINO:
    """Assembles `OfflineGroundingDINO` from the package's pieces, with `BertTextEncoder`
    over a BERT built from ``args.bert`` (random weights, seeded by the caller)."""
    from groundingdino.models.GroundingDINO.backbone.backbone import Joiner
    from groundingdino.models.GroundingDINO.backbone.position_encoding import (
        build_position_encoding,
    )
    from groundingdino.models.GroundingDINO.backbone.swin_transformer import SwinTransformer
    from groundingdino.models.GroundingDINO.transformer import build_transformer
    from transformers import BertConfig, BertModel

    indices = tuple(args.return_interm_indices)
    swin = SwinTransformer(pretrain_img_size=224, out_indices=indices, **args.swin)
    backbone = Joiner(swin, build_position_encoding(args))
    backbone.num_channels = swin.num_features[4 - len(indices) :]
    transformer = build_transformer(args)
    text_encoder = BertTextEncoder(BertModel(BertConfig(**args.bert)))
    return OfflineGroundingDINO(backbone, transformer, tokenizer, text_encoder, args)
