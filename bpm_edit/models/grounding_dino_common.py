"""What both Grounding DINO backends share: captions, offline tokenizers, thresholds,
working sizes, input checks and the paper's post-processing.

Detection follows the paper's code: each phrase becomes its own caption (lower-cased,
ended with "."); a query box is kept when its best token probability exceeds
`box_threshold` (0.3) and at least one of the phrase's own tokens exceeds `text_threshold`
(0.25) -- a box whose phrase label would be empty in the original `predict()` matched only
the caption's separators and is dropped. Its score is the best token probability, as in
`predict()`. Boxes are xyxy in the image's own pixels, clipped to the image, sorted by
descending score. Images are detected at a working resolution of shortest edge 800,
longest edge at most 1333 (`DETECTION_SIZE`, both backends' default).

Both detectors take their working size and default thresholds as constructor arguments
and never change them; `detect(..., box_threshold=, text_threshold=)` overrides the
thresholds for one call (how the localizer passes its own), so one detector can serve
many localizers.

The built-in variants need no network: their tokenizers use a WordPiece vocabulary
generated here (`wordpiece_vocab`). The backends are `bpm_edit.models.grounding_dino`
(transformers) and `bpm_edit.models.grounding_dino_py` (groundingdino-py); both import
this module and neither imports the other's internals.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from bpm_edit.errors import ConfigError, InputError
from bpm_edit.models.detection import Detections

if TYPE_CHECKING:
    from transformers import BertTokenizer

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
        raise InputError(f"detection phrase must be a non-empty string, got {phrase!r}")
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
            raise ConfigError(f"{name} must lie in [0, 1], got {value}")


def call_thresholds(
    defaults: tuple[float, float], box_threshold: float | None, text_threshold: float | None
) -> tuple[float, float]:
    """The (box, text) thresholds of one `detect` call: the ones passed, else the
    detector's `defaults`; validated."""
    box = defaults[0] if box_threshold is None else box_threshold
    text = defaults[1] if text_threshold is None else text_threshold
    check_thresholds(box, text)
    return float(box), float(text)


def check_detection_size(size: Mapping[str, int]) -> dict[str, int]:
    """A working size as a new ``{"shortest_edge", "longest_edge"}`` dict, validated.

    Grounding DINO was trained with shortest edges 480..800, so 512 (about 2.4x fewer
    pixels than 800, see BENCHMARKS.md) stays inside its training range.
    """
    shortest, longest = size.get("shortest_edge"), size.get("longest_edge")
    if not (isinstance(shortest, int) and isinstance(longest, int) and 0 < shortest <= longest):
        raise ConfigError(
            f"detection_size needs integers 0 < shortest_edge <= longest_edge, got {size!r}"
        )
    return {"shortest_edge": shortest, "longest_edge": longest}


def detection_size_for(shortest_edge: int) -> dict[str, int]:
    """The working size of a shortest edge: the longest edge capped at 1333/800 of it, as
    `DETECTION_SIZE`."""
    if not isinstance(shortest_edge, int) or shortest_edge < 1:
        raise ConfigError(f"detection_size must be a positive int, got {shortest_edge!r}")
    longest = max(shortest_edge, round(shortest_edge * 1333 / 800))
    return {"shortest_edge": shortest_edge, "longest_edge": longest}


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
