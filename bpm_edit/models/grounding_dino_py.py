"""Grounding DINO through the original code (``groundingdino-py``), the paper's setup.

groundingdino-py 0.4.0 wraps BERT in `BertModelWarper`, which calls
`BertModel.get_extended_attention_mask` / `get_head_mask`; transformers 5 removed both, so
the package's `build_model` fails. `BertTextEncoder` replaces the warper: it holds the same
`embeddings` / `encoder` / `pooler` submodules (so the original checkpoint's ``bert.*`` keys
load unchanged) and builds the 4-D additive attention mask itself, with the maths of
transformers 4's `get_extended_attention_mask`: a 2-D padding mask ``(B, T)`` becomes
``(1 - mask)[:, None, None, :] * finfo(dtype).min``, the 3-D text self-attention mask
``(B, T, T)`` that Grounding DINO builds between the caption's "."-separated phrases becomes
``(1 - mask)[:, None, :, :] * finfo(dtype).min``.

The model is assembled offline from the package's own pieces (Swin, transformer,
`GroundingDINO`): BERT comes from a `BertConfig` (bert-base-uncased sizes for the real
model; its weights are in the checkpoint) and the tokenizer from a local directory (real
model) or the generated vocabulary (built-in variants). Gradient checkpointing is off.

Inference matches groundingdino's `load_image` + `predict()`: resize to shortest edge 800,
longest at most 1333, ImageNet normalisation, one (image, caption) per forward; the boxes
are post-processed by `bpm_edit.models.grounding_dino_common.grounded_detections`.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import torch
from PIL import Image
from torch import nn

from bpm_edit.models.detection import Detections
from bpm_edit.models.grounding_dino_common import (
    BERT_BASE_VOCAB_SIZE,
    BOX_THRESHOLD,
    DETECTION_SIZE,
    MAX_TEXT_LEN,
    SEED,
    SEPARATOR_TOKENS,
    TEXT_THRESHOLD,
    TINY_DETECTION_SIZE,
    bert_tokenizer,
    call_thresholds,
    check_detection_size,
    check_pairs,
    check_thresholds,
    grounded_detections,
    phrase_token_mask,
    wordpiece_vocab,
)
from bpm_edit.models.weights import WEIGHT_KEYS, WeightSpec

CHECKPOINT_NAME = "groundingdino_swint_ogc.pth"
#: Where the "default" variant's checkpoint comes from.
WEIGHTS = WeightSpec(
    model="Grounding DINO SwinT-OGC (groundingdino-py)",
    files=(CHECKPOINT_NAME,),
    key="detector",
    flag=WEIGHT_KEYS["detector"],
    repo_id="ShilongLiu/GroundingDINO",
    flat=True,
)
#: The text tokenizer the original checkpoint expects (not inside the .pth).
TOKENIZER_WEIGHTS = WeightSpec(
    model="BERT tokenizer for Grounding DINO (groundingdino-py)",
    files=("vocab.txt", "tokenizer_config.json"),
    key="detector_tokenizer",
    flag=WEIGHT_KEYS["detector_tokenizer"],
    repo_id="google-bert/bert-base-uncased",
    directory=True,
    download_patterns=("vocab.txt", "tokenizer_config.json", "tokenizer.json", "config.json"),
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Keys the original checkpoint may hold that transformers 5 keeps as non-persistent buffers.
IGNORED_CHECKPOINT_KEYS = ("bert.embeddings.position_ids", "bert.embeddings.token_type_ids")


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
        raise ValueError(f"unknown architecture {architecture!r}; expected 'swint-ogc' or 'tiny'")
    return SimpleNamespace(**args, swin=swin, bert=bert)


def build_groundingdino_model(args: SimpleNamespace, tokenizer) -> nn.Module:
    """Assembles groundingdino's `GroundingDINO` offline, with `BertTextEncoder` in place of
    `BertModelWarper` and BERT built from a config (random weights, seeded by the caller)."""
    from groundingdino.models.GroundingDINO import groundingdino as gd
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
    offline_text = SimpleNamespace(
        get_tokenlizer=lambda _: tokenizer,
        get_pretrained_language_model=lambda _: BertModel(BertConfig(**args.bert)),
    )
    with (
        mock.patch.object(gd, "get_tokenlizer", offline_text),
        mock.patch.object(gd, "BertModelWarper", BertTextEncoder),
    ):
        model = gd.GroundingDINO(
            backbone,
            transformer,
            num_queries=args.num_queries,
            aux_loss=True,
            iter_update=True,
            query_dim=4,
            num_feature_levels=args.num_feature_levels,
            nheads=args.nheads,
            dec_pred_bbox_embed_share=args.dec_pred_bbox_embed_share,
            two_stage_type=args.two_stage_type,
            two_stage_bbox_embed_share=args.two_stage_bbox_embed_share,
            two_stage_class_embed_share=args.two_stage_class_embed_share,
            num_patterns=args.num_patterns,
            dn_number=0,
            dn_box_noise_scale=args.dn_box_noise_scale,
            dn_label_noise_ratio=args.dn_label_noise_ratio,
            dn_labelbook_size=args.dn_labelbook_size,
            text_encoder_type=args.text_encoder_type,
            sub_sentence_present=args.sub_sentence_present,
            max_text_len=args.max_text_len,
        )
    return model


def load_checkpoint(model: nn.Module, path: Path) -> None:
    """Loads an original-layout checkpoint (``{"model": state_dict}``, keys optionally
    prefixed ``module.``). A missing key is an error (part of the model would stay random);
    keys the model does not have are ignored, as the original `load_model` does, with a
    warning naming them (except BERT's position/token-type id buffers, which transformers 5
    no longer saves)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"{path}: not a plain tensor checkpoint (torch.load weights_only=True refused it: "
            f"{error})"
        ) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise ValueError(f"{path}: expected a dict with a 'model' state dict, as {CHECKPOINT_NAME}")
    state = {k.removeprefix("module."): v for k, v in checkpoint["model"].items()}
    state = {k: v for k, v in state.items() if k not in IGNORED_CHECKPOINT_KEYS}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing:
        raise ValueError(
            f"{path}: checkpoint does not match the Grounding DINO model, {len(missing)} missing "
            f"keys: {missing[:5]}{'...' if len(missing) > 5 else ''}"
        )
    if unexpected:
        warnings.warn(
            f"{path}: ignored {len(unexpected)} checkpoint keys the model does not have: "
            f"{unexpected[:5]}{'...' if len(unexpected) > 5 else ''}",
            stacklevel=2,
        )


class GroundingDinoPyDetector:
    """groundingdino-py's `GroundingDINO` behind the `Detector` interface.

    One (image, caption) pair per forward, as the original `predict()` (no padding between
    images, so results do not depend on what else is in a batch). `detection_size` is the
    working size ``{"shortest_edge", "longest_edge"}``, fixed at construction (see
    `with_detection_size`).
    """

    def __init__(
        self,
        model: nn.Module,
        box_threshold: float = BOX_THRESHOLD,
        text_threshold: float = TEXT_THRESHOLD,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        detection_size: Mapping[str, int] = DETECTION_SIZE,
    ) -> None:
        check_thresholds(box_threshold, text_threshold)
        self._detection_size = check_detection_size(detection_size)
        self.device = torch.device(device)
        self.model = model.to(device=self.device, dtype=dtype).eval()
        self.dtype = next(self.model.parameters()).dtype
        self.box_threshold = box_threshold
        self.text_threshold = text_threshold
        tokenizer = model.tokenizer
        ids = tokenizer.convert_tokens_to_ids(list(SEPARATOR_TOKENS))
        self._separator_ids = [i for i in ids if i != tokenizer.unk_token_id]

    @property
    def detection_size(self) -> dict[str, int]:
        """The working resolution, ``{"shortest_edge", "longest_edge"}`` (a copy)."""
        return dict(self._detection_size)

    def with_detection_size(self, detection_size: Mapping[str, int]) -> GroundingDinoPyDetector:
        """A detector over the same model at another working size."""
        return GroundingDinoPyDetector(
            self.model, self.box_threshold, self.text_threshold, device=self.device,
            dtype=self.dtype, detection_size=detection_size,
        )  # fmt: skip

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """groundingdino's `load_image` transform: resize (shortest edge, longest capped),
        to tensor, ImageNet normalisation. Returns ``(3, H, W)``."""
        import torchvision.transforms.functional as tf
        from groundingdino.datasets.transforms import resize

        size = self._detection_size
        resized, _ = resize(image.convert("RGB"), None, size["shortest_edge"], size["longest_edge"])
        return tf.normalize(tf.to_tensor(resized), IMAGENET_MEAN, IMAGENET_STD)

    def detect(
        self,
        images: Sequence[Image.Image],
        phrases: Sequence[str],
        *,
        box_threshold: float | None = None,
        text_threshold: float | None = None,
    ) -> list[Detections]:
        captions = check_pairs(images, phrases)
        thresholds = call_thresholds(
            (self.box_threshold, self.text_threshold), box_threshold, text_threshold
        )
        return [
            self._detect_one(image, caption, thresholds)
            for image, caption in zip(images, captions, strict=True)
        ]

    @torch.inference_mode()
    def _detect_one(
        self, image: Image.Image, caption: str, thresholds: tuple[float, float]
    ) -> Detections:
        pixels = self.preprocess(image).to(self.device, self.dtype)
        with warnings.catch_warnings():
            _quiet_groundingdino_warnings()
            outputs = self.model(pixels[None], captions=[caption])
        probs = outputs["pred_logits"].float().sigmoid()[0].cpu()
        boxes = outputs["pred_boxes"].float()[0].cpu()
        input_ids = self.model.tokenizer(caption, return_tensors="pt")["input_ids"][0]
        phrase_mask = phrase_token_mask(input_ids, self._separator_ids, probs.shape[-1])
        return grounded_detections(probs, boxes, phrase_mask, image.size, *thresholds)


def build_groundingdino_py_detector(
    variant: str,
    weights: Path | str | None,
    device: str,
    dtype: torch.dtype | None,
    box_threshold: float,
    text_threshold: float,
    tokenizer: str | Path = "bert-base-uncased",
    architecture: str = "swint-ogc",
    detection_size: Mapping[str, int] | None = None,
) -> GroundingDinoPyDetector:
    """The groundingdino-py detector of a variant.

    "default": `weights` is the ``groundingdino_swint_ogc.pth`` file, loaded into the
    `architecture` ("swint-ogc", the real model; "tiny" for checkpoints of the tiny
    variant), and `tokenizer` the bert-base-uncased tokenizer (a local directory or a hub
    id already in the local cache). "tiny" / "random": seeded random weights.
    `detection_size` None: `TINY_DETECTION_SIZE` for the tiny architecture, else
    `DETECTION_SIZE`.
    """
    if architecture not in ("swint-ogc", "tiny"):
        raise ValueError(f"unknown architecture {architecture!r}; expected 'swint-ogc' or 'tiny'")
    if variant == "default":
        if weights is None:
            raise ValueError(
                f"Grounding DINO (groundingdino-py backend), variant 'default', needs weights: "
                f"the path of {CHECKPOINT_NAME}"
            )
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"Grounding DINO checkpoint {path} does not exist")
        text_tokenizer = _load_bert_tokenizer(tokenizer)
        shape = architecture
    else:
        size = None if variant == "tiny" else BERT_BASE_VOCAB_SIZE
        text_tokenizer = bert_tokenizer(wordpiece_vocab(size))
        shape = "tiny" if variant == "tiny" else "swint-ogc"
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        _quiet_groundingdino_warnings()
        torch.manual_seed(SEED)
        model = build_groundingdino_model(groundingdino_args(shape), text_tokenizer)
    if variant == "default":
        load_checkpoint(model, path)
    if detection_size is None:
        detection_size = TINY_DETECTION_SIZE if shape == "tiny" else DETECTION_SIZE
    return GroundingDinoPyDetector(
        model, box_threshold, text_threshold, device=device, dtype=dtype,
        detection_size=detection_size,
    )  # fmt: skip


def _quiet_groundingdino_warnings() -> None:
    """Silences the 2023 package's deprecation notices (timm.models.layers, meshgrid
    indexing, torch.cuda.amp.autocast); call inside `warnings.catch_warnings()`."""
    warnings.filterwarnings("ignore", message=r"Importing from timm\.models\.layers")
    warnings.filterwarnings("ignore", message=r"torch\.meshgrid: in an upcoming release")
    warnings.filterwarnings("ignore", message=r"`torch\.cuda\.amp\.autocast")


def _load_bert_tokenizer(tokenizer: str | Path):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(tokenizer), local_files_only=True)
    except OSError as error:
        raise FileNotFoundError(
            f"Grounding DINO (groundingdino-py) needs the bert-base-uncased tokenizer: "
            f"{tokenizer!s} is neither a local tokenizer directory nor in the hub cache "
            f"(pass a directory with vocab.txt or tokenizer.json; the hub repo "
            f"IDEA-Research/grounding-dino-tiny has the same tokenizer). Cause: {error}"
        ) from None
