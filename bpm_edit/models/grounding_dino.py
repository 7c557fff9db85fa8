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
Both built-in variants need no network: their tokenizers use a generated WordPiece
vocabulary (`grounding_dino_common.wordpiece_vocab`). `WEIGHTS` says where the "default"
variant's weights come from.

Detection (captions, thresholds, post-processing, working size) follows the paper's code,
shared by both backends: see `bpm_edit.models.grounding_dino_common`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from PIL import Image

from bpm_edit.errors import ConfigError, WeightsNotFoundError
from bpm_edit.models.detection import DETECTOR_BACKENDS, Detections, Detector
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
from bpm_edit.models.weights import VARIANTS, WEIGHT_KEYS, WeightSpec

if TYPE_CHECKING:
    from transformers import GroundingDinoForObjectDetection, GroundingDinoProcessor

HUB_REPO = "IDEA-Research/grounding-dino-tiny"
#: Where the "default" variant's weights come from (a copy of the hub repo).
WEIGHTS = WeightSpec(
    model="Grounding DINO SwinT-OGC (transformers)",
    files=("config.json", "model.safetensors", "preprocessor_config.json"),
    key="detector",
    flag=WEIGHT_KEYS["detector"],
    repo_id=HUB_REPO,
    directory=True,
    download_patterns=("*.json", "*.txt", "*.safetensors"),
)


class HFGroundingDinoDetector:
    """transformers' `GroundingDinoForObjectDetection` behind the `Detector` interface.

    `detect(images, phrases)` pairs ``images[i]`` with ``phrases[i]`` (one caption per pair).
    The processor resizes each image to the working size `detection_size`
    (``{"shortest_edge", "longest_edge"}``; None: the processor's own size, `DETECTION_SIZE`
    for the hub model); pairs whose resized images have the same shape run together,
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
        detection_size: Mapping[str, int] | None = None,
    ) -> None:
        check_thresholds(box_threshold, text_threshold)
        if detection_size is None:
            detection_size = processor.image_processor.size
        self._detection_size = check_detection_size(detection_size)
        if max_batch < 1:
            raise ConfigError(f"max_batch must be >= 1, got {max_batch}")
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
        """The working resolution, ``{"shortest_edge", "longest_edge"}`` (a copy: it is
        fixed at construction, see `with_detection_size`)."""
        return dict(self._detection_size)

    def with_detection_size(self, detection_size: Mapping[str, int]) -> HFGroundingDinoDetector:
        """A detector over the same model and processor at another working size."""
        return HFGroundingDinoDetector(
            self.model, self.processor, self.box_threshold, self.text_threshold,
            device=self.device, dtype=self.dtype, max_batch=self.max_batch,
            detection_size=detection_size,
        )  # fmt: skip

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
        pixels: dict[int, torch.Tensor] = {}  # one preprocessing per distinct image object
        for image in images:
            if id(image) not in pixels:
                processed = self.processor.image_processor(
                    images=image.convert("RGB"), size=self._detection_size, return_tensors="pt"
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
                    batch,
                    [captions[i] for i in chunk],
                    [images[i].size for i in chunk],
                    thresholds,
                )
                results.update(zip(chunk, found, strict=True))
        return [results[i] for i in range(len(captions))]

    @torch.inference_mode()
    def _detect_batch(
        self,
        pixel_values: torch.Tensor,
        captions: list[str],
        sizes: list[tuple[int, int]],
        thresholds: tuple[float, float],
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
                *thresholds,
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
    raise ConfigError(f"no built-in config for variant {variant!r}; built-in: 'tiny', 'random'")


def _build_hf_detector(
    variant: str,
    weights: Path | None,
    device: str,
    dtype: torch.dtype | None,
    box_threshold: float,
    text_threshold: float,
    detection_size: Mapping[str, int] | None,
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
        max_batch=max_batch, detection_size=detection_size,
    )  # fmt: skip


def _weights_directory(weights: Path | str | None) -> Path:
    if weights is None:
        raise ConfigError(
            "Grounding DINO (transformers backend), variant 'default', needs weights: a local "
            f"directory laid out like the hub repo {HUB_REPO} (config.json, model.safetensors, "
            "preprocessor_config.json, tokenizer files)"
        )
    directory = Path(weights)
    if not (directory / "config.json").is_file():
        raise WeightsNotFoundError(
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
    detection_size: Mapping[str, int] | None = None,
) -> Detector:
    """Builds a Grounding DINO `Detector`.

    `weights` (variant "default" only): for "transformers" a local directory laid out like
    the hub repo ``IDEA-Research/grounding-dino-tiny``; for "groundingdino-py" the
    ``groundingdino_swint_ogc.pth`` file. `tokenizer` is used by "groundingdino-py" /
    "default" only (the .pth file holds no tokenizer): a local directory with the
    bert-base-uncased tokenizer files, or a hub id found in the local cache.
    `box_threshold` / `text_threshold` are the detector's defaults (a `detect` call may pass
    its own); `detection_size` is the working size ``{"shortest_edge", "longest_edge"}``
    (`grounding_dino_common.detection_size_for` makes one from a shortest edge), None: the
    variant's (`DETECTION_SIZE`; `TINY_DETECTION_SIZE` for "tiny").
    """
    check_thresholds(box_threshold, text_threshold)
    if variant not in VARIANTS:
        raise ConfigError(f"unknown Grounding DINO variant {variant!r}; expected one of {VARIANTS}")
    if backend == "transformers":
        return _build_hf_detector(
            variant, weights, device, dtype, box_threshold, text_threshold, detection_size
        )
    if backend == "groundingdino-py":
        from bpm_edit.models.grounding_dino_py import build_groundingdino_py_detector

        return build_groundingdino_py_detector(
            variant, weights, device, dtype, box_threshold, text_threshold, tokenizer,
            detection_size=detection_size,
        )  # fmt: skip
    raise ConfigError(
        f"unknown Grounding DINO backend {backend!r}; expected one of {DETECTOR_BACKENDS}"
    )
