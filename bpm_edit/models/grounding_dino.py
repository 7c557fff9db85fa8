"""Grounding DINO (SwinT-OGC) as a `Detector`, and the factory for both of its backends.

Backends (one interface, `bpm_edit.models.detection.Detector`):

- ``"transformers"`` (default): transformers' `GroundingDinoForObjectDetection`, the hub
  model ``IDEA-Research/grounding-dino-tiny`` (the same SwinT-OGC detector). Maintained and
  batched: up to `max_batch` (image, caption) pairs of equal working size per forward.
- ``"groundingdino-py"``: the paper's setup, the original code with the original
  ``groundingdino_swint_ogc.pth`` (see `bpm_edit.models.grounding_dino_py`).

Variants: ``"default"`` loads real weights from a local path; ``"tiny"`` is a small
random-weight model built in code (tests, offline smoke runs); ``"random"`` is the real
full-size architecture with seeded random weights (benchmarks: same cost as the real one).
Both built-in variants need no network: their tokenizers use a WordPiece vocabulary
generated here (`wordpiece_vocab`).

Detection follows the paper's code: each phrase becomes its own caption (lower-cased,
ended with "."); a query box is kept when its best token probability exceeds
`box_threshold` (0.3) and at least one of the phrase's own tokens exceeds `text_threshold`
(0.25) -- a box whose phrase label would be empty in the original `predict()` matched only
the caption's separators and is dropped. Its score is the best token probability, as in
`predict()`. Boxes are xyxy in the image's own pixels, clipped to the image, sorted by
descending score. Images are detected at a working resolution of shortest edge 800,
longest edge at most 1333 (`DETECTION_SIZE`, both backends' default).
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from bpm_edit.models.detection import Detections, Detector
from bpm_edit.models.registry import DETECTOR_BACKENDS, VARIANTS

if TYPE_CHECKING:
    from transformers import (
        BertTokenizer,
        GroundingDinoForObjectDetection,
        GroundingDinoProcessor,
    )

HUB_REPO = "IDEA-Research/grounding-dino-tiny"

BOX_THRESHOLD = 0.3
TEXT_THRESHOLD = 0.25
MAX_TEXT_LEN = 256
DETECTION_SIZE = {"shortest_edge": 800, "longest_edge": 1333}
# The tiny variant is only ever run on small test images: a small working size keeps it fast.
TINY_DETECTION_SIZE = {"shortest_edge": 128, "longest_edge": 224}
SEED = 0

# Tokens that separate phrases in a caption; never part of a phrase (as groundingdino's
# `specical_tokens`), plus padding.
SEPARATOR_TOKENS = ("[CLS]", "[SEP]", "[PAD]", ".", "?")
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
BERT_BASE_VOCAB_SIZE = 30522
# Whole words in the tiny vocabulary (any other word still tokenizes, letter by letter).
TINY_WORDS = (
    "a an the of on in to and with cat dog apple bird tree car person man woman hat ball "
    "house tower table chair cup sky red blue green small large left right"
).split()


def wordpiece_vocab(size: int | None = None) -> dict[str, int]:
    """A BERT WordPiece vocabulary generated deterministically, for offline tokenizers.

    Without `size`: the tiny vocabulary -- special tokens, punctuation, digits, letters, their
    ``##`` continuation pieces and `TINY_WORDS`. With `size` (the "random" variant uses
    bert-base-uncased's 30522): bert-base-uncased's layout of special ids ([PAD]=0,
    [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103, the rest of 0..103 ``[unusedN]``), then the
    tiny vocabulary, then letter bigrams and trigrams and their ``##`` pieces until `size`
    entries. Real words tokenize into other pieces than bert-base-uncased's, which does not
    change the model's cost.
    """
    basic = list(string.punctuation) + list(string.digits) + list(string.ascii_lowercase)
    basic += ["##" + c for c in string.digits + string.ascii_lowercase]
    basic += [w for w in TINY_WORDS if w not in basic]
    if size is None:
        return {token: i for i, token in enumerate(list(SPECIAL_TOKENS) + basic)}
    tokens = [f"[unused{i}]" for i in range(99)]
    tokens = ["[PAD]"] + tokens + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"] + basic
    seen = set(tokens)
    for n in (2, 3):
        for piece in map("".join, itertools.product(string.ascii_lowercase, repeat=n)):
            for token in (piece, "##" + piece):
                if token not in seen:
                    seen.add(token)
                    tokens.append(token)
    if not 104 + len(basic) <= size <= len(tokens):
        bounds = f"[{104 + len(basic)}, {len(tokens)}]"
        raise ValueError(f"wordpiece_vocab: size {size} outside {bounds}")
    return {token: i for i, token in enumerate(tokens[:size])}


def bert_tokenizer(vocab: dict[str, int]) -> BertTokenizer:
    """A lower-casing BERT WordPiece tokenizer over `vocab` (no files, no hub)."""
    from transformers import BertTokenizer

    return BertTokenizer(vocab=vocab, do_lower_case=True)


def caption_for(phrase: str) -> str:
    """The caption for one phrase, as the paper's code builds it: lower-cased, ended with "."."""
    if not isinstance(phrase, str) or not phrase.strip():
        raise ValueError(f"detection phrase must be a non-empty string, got {phrase!r}")
    caption = phrase.strip().lower()
    return caption if caption.endswith(".") else caption + "."


def phrase_token_mask(
    input_ids: torch.Tensor, separator_ids: Sequence[int], width: int
) -> torch.Tensor:
    """`(width,)` bool: True at the positions of `input_ids` that belong to the phrase.

    `width` is the model's text dimension (its logits are padded to `max_text_len`);
    positions past the caption and separator tokens are False.
    """
    mask = torch.zeros(width, dtype=torch.bool)
    ids = input_ids[:width].cpu()
    is_phrase = ~torch.isin(ids, torch.tensor(list(separator_ids), dtype=ids.dtype))
    mask[: len(ids)] = is_phrase
    return mask


def grounded_detections(
    token_probs: torch.Tensor,
    boxes_cxcywh: torch.Tensor,
    phrase_mask: torch.Tensor,
    image_size: tuple[int, int],
    box_threshold: float = BOX_THRESHOLD,
    text_threshold: float = TEXT_THRESHOLD,
) -> Detections:
    """Post-processing for one (image, caption): model outputs in, `Detections` out.

    `token_probs` `(Q, T)` are sigmoid probabilities of each query against each text token,
    `boxes_cxcywh` `(Q, 4)` normalised to the image (cx, cy, w, h), `phrase_mask` `(T,)` the
    phrase's tokens, `image_size` `(width, height)`. Keeps query q when
    ``max_t probs[q, t] > box_threshold`` and ``max_{t in phrase} probs[q, t] > text_threshold``;
    its score is ``max_t probs[q, t]``. Boxes become xyxy pixels clipped to the image.

    Both backends use this one function. transformers' `post_process_grounded_object_detection`
    computes the same boxes and scores (a test pins that) but applies the text threshold
    only to labels, so it cannot drop separator-only boxes.
    """
    if token_probs.ndim != 2 or boxes_cxcywh.shape != (token_probs.shape[0], 4):
        raise ValueError(
            f"expected token_probs (Q, T) and boxes (Q, 4), got {tuple(token_probs.shape)} "
            f"and {tuple(boxes_cxcywh.shape)}"
        )
    if phrase_mask.shape != (token_probs.shape[1],):
        raise ValueError(
            f"phrase_mask must be ({token_probs.shape[1]},), got {tuple(phrase_mask.shape)}"
        )
    probs = token_probs.float().cpu()
    scores = probs.max(dim=1).values
    phrase_best = probs.masked_fill(~phrase_mask.cpu(), 0.0).max(dim=1).values
    keep = (scores > box_threshold) & (phrase_best > text_threshold)
    width, height = image_size
    cx, cy, w, h = boxes_cxcywh.float().cpu()[keep].unbind(-1)
    xyxy = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)
    xyxy = xyxy * torch.tensor([width, height, width, height], dtype=torch.float32)
    xyxy[:, 0::2] = xyxy[:, 0::2].clamp(0, width)
    xyxy[:, 1::2] = xyxy[:, 1::2].clamp(0, height)
    kept_scores = scores[keep]
    order = torch.argsort(kept_scores, descending=True, stable=True)
    return Detections(
        boxes=xyxy[order].numpy().astype(np.float32).reshape(-1, 4),
        scores=kept_scores[order].numpy().astype(np.float32),
    )


def check_thresholds(box_threshold: float, text_threshold: float) -> None:
    for name, value in (("box_threshold", box_threshold), ("text_threshold", text_threshold)):
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {value}")


def check_pairs(images: Sequence[Image.Image], phrases: Sequence[str]) -> list[str]:
    """Validates the detector's input pairs; returns the captions."""
    if isinstance(phrases, str):
        raise TypeError("phrases must be a sequence of strings, one per image, not one string")
    if len(images) != len(phrases):
        raise ValueError(
            f"detect() pairs images[i] with phrases[i]: got {len(images)} images and "
            f"{len(phrases)} phrases"
        )
    for i, image in enumerate(images):
        if not isinstance(image, Image.Image):
            raise TypeError(f"images[{i}] must be a PIL image, got {type(image).__name__}")
    return [caption_for(p) for p in phrases]


class HFGroundingDinoDetector:
    """transformers' `GroundingDinoForObjectDetection` behind the `Detector` interface.

    `detect(images, phrases)` pairs ``images[i]`` with ``phrases[i]`` (one caption per pair).
    The processor resizes each image to its working size (`DETECTION_SIZE` unless the
    processor says otherwise); pairs whose resized images have the same shape run together,
    up to `max_batch` per forward. Images are never padded to each other's size: Swin sees
    padding, so a padded batch would make one pair's boxes depend on the other images in
    the call. Images in any PIL mode are converted to RGB.
    """

    def __init__(
        self,
        model: GroundingDinoForObjectDetection,
        processor: GroundingDinoProcessor,
        box_threshold: float = BOX_THRESHOLD,
        text_threshold: float = TEXT_THRESHOLD,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        max_batch: int = 4,
    ) -> None:
        check_thresholds(box_threshold, text_threshold)
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.device = torch.device(device)
        self.model = model.to(device=self.device, dtype=dtype).eval()
        self.dtype = next(self.model.parameters()).dtype
        self.processor = processor
        self.box_threshold = box_threshold
        self.text_threshold = text_threshold
        self.max_batch = max_batch
        tokenizer = processor.tokenizer
        ids = tokenizer.convert_tokens_to_ids(list(SEPARATOR_TOKENS))
        self._separator_ids = [i for i in ids if i != tokenizer.unk_token_id]

    @property
    def detection_size(self) -> dict[str, int]:
        """The working resolution, ``{"shortest_edge", "longest_edge"}`` (as the
        groundingdino-py backend's attribute). Setting it changes the processor's resize:
        Grounding DINO was trained with shortest edges 480..800, so 512 (about 2.4x fewer
        pixels than 800, see BENCHMARKS.md) stays inside its training range."""
        size = self.processor.image_processor.size
        return {"shortest_edge": size["shortest_edge"], "longest_edge": size["longest_edge"]}

    @detection_size.setter
    def detection_size(self, size: dict[str, int]) -> None:
        shortest, longest = size.get("shortest_edge"), size.get("longest_edge")
        if not (isinstance(shortest, int) and isinstance(longest, int) and 0 < shortest <= longest):
            raise ValueError(
                "detection_size needs integers 0 < shortest_edge <= longest_edge, got "
                f"{size!r}"
            )
        self.processor.image_processor.size = {"shortest_edge": shortest, "longest_edge": longest}

    def detect(self, images: Sequence[Image.Image], phrases: Sequence[str]) -> list[Detections]:
        captions = check_pairs(images, phrases)
        pixels: dict[int, torch.Tensor] = {}  # one preprocessing per distinct image object
        for image in images:
            if id(image) not in pixels:
                processed = self.processor.image_processor(
                    images=image.convert("RGB"), return_tensors="pt"
                )
                pixels[id(image)] = processed["pixel_values"][0]
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, image in enumerate(images):
            by_shape.setdefault(tuple(pixels[id(image)].shape), []).append(i)
        results: dict[int, Detections] = {}
        for indices in by_shape.values():
            for start in range(0, len(indices), self.max_batch):
                chunk = indices[start : start + self.max_batch]
                batch = torch.stack([pixels[id(images[i])] for i in chunk])
                found = self._detect_batch(
                    batch, [captions[i] for i in chunk], [images[i].size for i in chunk]
                )
                results.update(zip(chunk, found, strict=True))
        return [results[i] for i in range(len(captions))]

    @torch.inference_mode()
    def _detect_batch(
        self, pixel_values: torch.Tensor, captions: list[str], sizes: list[tuple[int, int]]
    ) -> list[Detections]:
        text = self.processor.tokenizer(
            captions,
            padding="longest",
            truncation=True,
            max_length=MAX_TEXT_LEN,
            return_tensors="pt",
            return_token_type_ids=True,
        )
        outputs = self.model(
            pixel_values=pixel_values.to(self.device, self.dtype),
            pixel_mask=torch.ones(
                (pixel_values.shape[0], *pixel_values.shape[-2:]),
                dtype=torch.long,
                device=self.device,
            ),
            input_ids=text["input_ids"].to(self.device),
            token_type_ids=text["token_type_ids"].to(self.device),
            attention_mask=text["attention_mask"].to(self.device),
        )
        probs = outputs.logits.float().sigmoid().cpu()
        boxes = outputs.pred_boxes.float().cpu()
        return [
            grounded_detections(
                probs[i],
                boxes[i],
                phrase_token_mask(text["input_ids"][i], self._separator_ids, probs.shape[-1]),
                size,
                self.box_threshold,
                self.text_threshold,
            )
            for i, size in enumerate(sizes)
        ]


def hf_grounding_dino_config(variant: str):
    """The `GroundingDinoConfig` of a built-in variant: "random" = SwinT-OGC at full size
    (as ``IDEA-Research/grounding-dino-tiny``, text backbone bert-base-uncased sizes);
    "tiny" = a small Swin, a 1-layer BERT and 1-2 layer transformers."""
    from transformers import BertConfig, GroundingDinoConfig, SwinConfig

    if variant == "random":
        swin = SwinConfig(
            image_size=224, embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
            window_size=7, out_indices=[2, 3, 4], out_features=["stage2", "stage3", "stage4"],
        )  # fmt: skip
        bert = BertConfig(vocab_size=BERT_BASE_VOCAB_SIZE)  # bert-base-uncased sizes
        return GroundingDinoConfig(backbone_config=swin, text_config=bert)
    if variant == "tiny":
        swin = SwinConfig(
            image_size=224, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2],
            window_size=7, out_indices=[2, 3, 4], out_features=["stage2", "stage3", "stage4"],
        )  # fmt: skip
        bert = BertConfig(
            vocab_size=len(wordpiece_vocab()), hidden_size=32, num_hidden_layers=1,
            num_attention_heads=2, intermediate_size=64, max_position_embeddings=MAX_TEXT_LEN,
        )  # fmt: skip
        return GroundingDinoConfig(
            backbone_config=swin, text_config=bert, num_queries=20, d_model=32,
            encoder_layers=1, decoder_layers=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
            encoder_attention_heads=2, decoder_attention_heads=2,
            encoder_n_points=2, decoder_n_points=2,
        )  # fmt: skip
    raise ValueError(f"no built-in config for variant {variant!r}; built-in: 'tiny', 'random'")


def _build_hf_detector(
    variant: str,
    weights: Path | None,
    device: str,
    dtype: torch.dtype | None,
    box_threshold: float,
    text_threshold: float,
) -> HFGroundingDinoDetector:
    from transformers import (
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
    )

    if variant == "default":
        directory = _weights_directory(weights)
        model = GroundingDinoForObjectDetection.from_pretrained(directory, local_files_only=True)
        processor = GroundingDinoProcessor.from_pretrained(directory, local_files_only=True)
    else:
        config = hf_grounding_dino_config(variant)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            model = GroundingDinoForObjectDetection(config)
        size = TINY_DETECTION_SIZE if variant == "tiny" else DETECTION_SIZE
        vocab = wordpiece_vocab() if variant == "tiny" else wordpiece_vocab(BERT_BASE_VOCAB_SIZE)
        processor = GroundingDinoProcessor(
            image_processor=GroundingDinoImageProcessor(size=dict(size)),
            tokenizer=bert_tokenizer(vocab),
        )
    # Batching equal-size images pays on a GPU; on a CPU it made each query 5-15 % slower
    # (BENCHMARKS.md), so there every image gets its own forward.
    max_batch = 1 if torch.device(device).type == "cpu" else 4
    return HFGroundingDinoDetector(
        model, processor, box_threshold, text_threshold, device=device, dtype=dtype,
        max_batch=max_batch,
    )


def _weights_directory(weights: Path | str | None) -> Path:
    if weights is None:
        raise ValueError(
            "Grounding DINO (transformers backend), variant 'default', needs weights: a local "
            f"directory laid out like the hub repo {HUB_REPO} (config.json, model.safetensors, "
            "preprocessor_config.json, tokenizer files)"
        )
    directory = Path(weights)
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(
            f"Grounding DINO weights directory {directory} has no config.json; expected a copy "
            f"of the hub repo {HUB_REPO}"
        )
    return directory


def build_grounding_dino(
    backend: str = "transformers",
    variant: str = "default",
    weights: Path | None = None,
    device: str = "cpu",
    dtype: torch.dtype | None = None,
    box_threshold: float = BOX_THRESHOLD,
    text_threshold: float = TEXT_THRESHOLD,
    tokenizer: str | Path = "bert-base-uncased",
) -> Detector:
    """Builds a Grounding DINO `Detector`.

    `weights` (variant "default" only): for "transformers" a local directory laid out like
    the hub repo ``IDEA-Research/grounding-dino-tiny``; for "groundingdino-py" the
    ``groundingdino_swint_ogc.pth`` file. `tokenizer` is used by "groundingdino-py" /
    "default" only (the .pth file holds no tokenizer): a local directory with the
    bert-base-uncased tokenizer files, or a hub id found in the local cache.
    """
    check_thresholds(box_threshold, text_threshold)
    if variant not in VARIANTS:
        raise ValueError(f"unknown Grounding DINO variant {variant!r}; expected one of {VARIANTS}")
    if backend == "transformers":
        return _build_hf_detector(variant, weights, device, dtype, box_threshold, text_threshold)
    if backend == "groundingdino-py":
        from bpm_edit.models.grounding_dino_py import build_groundingdino_py_detector

        return build_groundingdino_py_detector(
            variant, weights, device, dtype, box_threshold, text_threshold, tokenizer
        )
    raise ValueError(
        f"unknown Grounding DINO backend {backend!r}; expected one of {DETECTOR_BACKENDS}"
    )
