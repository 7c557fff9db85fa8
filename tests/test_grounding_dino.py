"""Grounding DINO detectors: the transformers-5 BERT adapter, post-processing, both backends."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from bpm_edit.errors import ConfigError, WeightsError
from bpm_edit.models.detection import Detections, Detector
from bpm_edit.models.grounding_dino import (
    HFGroundingDinoDetector,
    build_grounding_dino,
    hf_grounding_dino_config,
)
from bpm_edit.models.grounding_dino_common import (
    BERT_BASE_VOCAB_SIZE,
    bert_tokenizer,
    caption_for,
    grounded_detections,
    phrase_token_mask,
    wordpiece_vocab,
)


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    rng = np.random.default_rng(7)
    wide = Image.fromarray(rng.integers(0, 256, (100, 150, 3), dtype=np.uint8))
    tall = Image.fromarray(rng.integers(0, 256, (120, 80, 3), dtype=np.uint8)).convert("L")
    return [wide, tall]


def assert_well_formed(result: Detections, image: Image.Image) -> None:
    assert result.boxes.ndim == 2 and result.boxes.shape[1] == 4
    assert result.scores.shape == (result.boxes.shape[0],)
    assert np.all(np.diff(result.scores) <= 0), "scores must be sorted, descending"
    width, height = image.size
    assert np.all(result.boxes[:, 0::2] >= 0) and np.all(result.boxes[:, 0::2] <= width)
    assert np.all(result.boxes[:, 1::2] >= 0) and np.all(result.boxes[:, 1::2] <= height)
    assert np.all(result.boxes[:, 2:] >= result.boxes[:, :2])


# ---------------------------------------------------------------- the BERT adapter


def old_extended_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """transformers 4's `ModuleUtilsMixin.get_extended_attention_mask` for an encoder."""
    extended = mask[:, None, :, :] if mask.dim() == 3 else mask[:, None, None, :]
    extended = extended.to(dtype=dtype)
    return (1.0 - extended) * torch.finfo(dtype).min


def reference_bert(bert, input_ids, mask, position_ids, token_type_ids) -> torch.Tensor:
    """BERT's encoder written out by hand (eager attention), with the old additive mask."""
    cfg = bert.config
    emb = bert.embeddings
    x = emb.word_embeddings(input_ids) + emb.token_type_embeddings(token_type_ids)
    x = emb.LayerNorm(x + emb.position_embeddings(position_ids))
    additive = old_extended_mask(mask, x.dtype)
    heads, size = cfg.num_attention_heads, cfg.hidden_size // cfg.num_attention_heads
    batch, tokens, _ = x.shape
    for layer in bert.encoder.layer:
        attn = layer.attention

        def split(t):
            return t.view(batch, tokens, heads, size).transpose(1, 2)

        q, k, v = (split(f(x)) for f in (attn.self.query, attn.self.key, attn.self.value))
        scores = q @ k.transpose(-1, -2) / math.sqrt(size) + additive
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, tokens, -1)
        x = attn.output.LayerNorm(attn.output.dense(context) + x)
        hidden = torch.nn.functional.gelu(layer.intermediate.dense(x))
        x = layer.output.LayerNorm(layer.output.dense(hidden) + x)
    return x


@pytest.fixture(scope="module")
def tiny_bert():
    from transformers import BertConfig, BertModel

    torch.manual_seed(3)
    config = BertConfig(
        vocab_size=len(wordpiece_vocab()), hidden_size=32, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=48, max_position_embeddings=64,
    )  # fmt: skip
    return BertModel(config).eval()


def test_extended_attention_mask_is_transformers4_maths():
    from bpm_edit.models.grounding_dino_py_model import extended_attention_mask

    padding = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    low = torch.finfo(torch.float32).min
    got = extended_attention_mask(padding, torch.float32)
    assert got.shape == (2, 1, 1, 4)
    expected = torch.tensor([[0, 0, 0, low], [0, 0, low, low]], dtype=torch.float32)
    assert torch.equal(got[:, 0, 0], expected)
    phrases = torch.tensor([[[1, 0, 0], [0, 1, 1], [0, 1, 1]]], dtype=torch.bool)
    got3 = extended_attention_mask(phrases, torch.float16)
    assert got3.shape == (1, 1, 3, 3) and got3.dtype == torch.float16
    assert torch.equal(got3, old_extended_mask(phrases, torch.float16))
    assert got3[0, 0, 0, 1] == torch.finfo(torch.float16).min and got3[0, 0, 1, 2] == 0
    with pytest.raises(ValueError, match="attention_mask"):
        extended_attention_mask(torch.ones(1, 1, 2, 2), torch.float32)


def test_adapter_matches_old_warper_maths_with_phrase_mask(tiny_bert):
    """Grounding DINO feeds BERT a 3-D mask (tokens attend within their phrase only) and
    per-phrase position ids, built by the package's own helper."""
    from bpm_edit.models.grounding_dino_py_model import BertTextEncoder

    with warnings.catch_warnings():  # the 2023 package imports timm.models.layers
        warnings.simplefilter("ignore", FutureWarning)
        from groundingdino.models.GroundingDINO.bertwarper import (
            generate_masks_with_special_tokens_and_transfer_map,
        )

    tokenizer = bert_tokenizer(wordpiece_vocab())
    tokenized = tokenizer(["a red cat. the dog.", "a hat."], padding="longest", return_tensors="pt")
    separators = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", ".", "?"])
    mask3d, position_ids, _ = generate_masks_with_special_tokens_and_transfer_map(
        tokenized, separators, tokenizer
    )
    assert not mask3d[0].all(), "the phrase mask must actually mask something"
    encoder = BertTextEncoder(tiny_bert).eval()
    with torch.no_grad():
        ours = encoder(
            input_ids=tokenized["input_ids"],
            attention_mask=mask3d,
            token_type_ids=tokenized["token_type_ids"],
            position_ids=position_ids,
        )["last_hidden_state"]
        reference = reference_bert(
            tiny_bert, tokenized["input_ids"], mask3d, position_ids, tokenized["token_type_ids"]
        )
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-5)


def test_adapter_matches_bert_with_padding_mask(tiny_bert):
    from bpm_edit.models.grounding_dino_py_model import BertTextEncoder

    ids = torch.tensor([[2, 10, 11, 3, 0, 0], [2, 12, 13, 14, 15, 3]])
    padding = (ids != 0).long()
    encoder = BertTextEncoder(tiny_bert).eval()
    with torch.no_grad():
        ours = encoder(input_ids=ids, attention_mask=padding)
        reference = reference_bert(tiny_bert, ids, padding, torch.arange(6)[None], ids * 0)
        modern = tiny_bert(input_ids=ids, attention_mask=padding)
    torch.testing.assert_close(ours.last_hidden_state, reference, rtol=0, atol=1e-5)
    torch.testing.assert_close(ours.last_hidden_state, modern.last_hidden_state, rtol=0, atol=1e-5)
    torch.testing.assert_close(ours.pooler_output, modern.pooler_output, rtol=0, atol=1e-5)


def test_adapter_keeps_the_warper_parameter_names(tiny_bert):
    from bpm_edit.models.grounding_dino_py_model import BertTextEncoder

    assert set(BertTextEncoder(tiny_bert).state_dict()) == set(tiny_bert.state_dict())
    assert any(k.startswith("embeddings.word_embeddings") for k in tiny_bert.state_dict())


# ---------------------------------------------------------------- captions and post-processing


def test_caption_is_lower_cased_and_ended_with_a_dot():
    assert caption_for("  A Red Cat ") == "a red cat."
    assert caption_for("dog.") == "dog."
    with pytest.raises(ValueError, match="non-empty"):
        caption_for("  ")


def test_phrase_token_mask_excludes_separators_and_padding():
    ids = torch.tensor([101, 7, 8, 9, 102, 0])  # [CLS] a cat . [SEP] [PAD]
    mask = phrase_token_mask(ids, separator_ids=[101, 102, 0, 9], width=8)
    assert mask.tolist() == [False, True, True, False, False, False, False, False]


def test_grounded_detections_thresholds_boxes_and_order():
    # tokens: [CLS] a cat . [SEP] (then padding up to 6)
    phrase = torch.tensor([False, True, True, False, False, False])
    probs = torch.tensor(
        [
            [0.0, 0.10, 0.50, 0.0, 0.0, 0.0],  # kept, score 0.5
            [0.0, 0.20, 0.30, 0.0, 0.0, 0.0],  # box threshold is strict: 0.30 is not > 0.3
            [0.9, 0.20, 0.25, 0.0, 0.0, 0.0],  # max on [CLS]; phrase best 0.25 not > 0.25
            [0.0, 0.80, 0.26, 0.0, 0.0, 0.0],  # kept, score 0.8
            [0.0, 0.00, 0.00, 0.7, 0.0, 0.0],  # only the "." fires: no phrase token
            [0.95, 0.0, 0.26, 0.0, 0.0, 0.0],  # kept, score 0.95 (max over all tokens)
        ]
    )
    boxes = torch.tensor(
        [
            [0.5, 0.5, 0.2, 0.4],
            [0.5, 0.5, 0.2, 0.2],
            [0.5, 0.5, 0.2, 0.2],
            [0.25, 0.75, 0.5, 0.5],
            [0.5, 0.5, 0.2, 0.2],
            [0.95, 0.05, 0.3, 0.3],  # sticks out of the top-right corner: clipped
        ]
    )
    result = grounded_detections(probs, boxes, phrase, image_size=(200, 100))
    np.testing.assert_allclose(result.scores, [0.95, 0.8, 0.5], rtol=0, atol=1e-7)
    expected = [[160.0, 0.0, 200.0, 20.0], [0.0, 50.0, 100.0, 100.0], [80.0, 30.0, 120.0, 70.0]]
    np.testing.assert_allclose(result.boxes, expected, rtol=0, atol=1e-4)
    assert result.boxes.dtype == np.float32 and result.scores.dtype == np.float32

    looser = grounded_detections(probs, boxes, phrase, (200, 100), 0.29, 0.2)
    np.testing.assert_allclose(looser.scores, [0.95, 0.9, 0.8, 0.5, 0.3], rtol=0, atol=1e-7)
    nothing = grounded_detections(probs, boxes, phrase, (200, 100), 0.99, 0.25)
    assert nothing.boxes.shape == (0, 4) and nothing.scores.shape == (0,)


def test_wordpiece_vocab_is_deterministic_with_bert_special_ids():
    full = wordpiece_vocab(BERT_BASE_VOCAB_SIZE)
    assert len(full) == BERT_BASE_VOCAB_SIZE
    assert sorted(full.values()) == list(range(BERT_BASE_VOCAB_SIZE))
    assert [full[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [
        0,
        100,
        101,
        102,
        103,
    ]
    assert full == wordpiece_vocab(BERT_BASE_VOCAB_SIZE)
    tiny = wordpiece_vocab()
    assert sorted(tiny.values()) == list(range(len(tiny)))
    tokens = bert_tokenizer(tiny).tokenize("A cat. Zebra")
    assert tokens == ["a", "cat", ".", "z", "##e", "##b", "##r", "##a"]
    with pytest.raises(ValueError, match="size"):
        wordpiece_vocab(10)


# ---------------------------------------------------------------- architectures


def test_random_variants_are_the_full_size_swint_ogc():
    from bpm_edit.models.grounding_dino_py_model import groundingdino_args

    hf = hf_grounding_dino_config("random")
    swin = hf.backbone_config
    assert (swin.embed_dim, list(swin.depths), list(swin.num_heads)) == (
        96,
        [2, 2, 6, 2],
        [3, 6, 12, 24],
    )
    assert (swin.window_size, list(swin.out_indices)) == (7, [2, 3, 4])
    bert = hf.text_config
    assert (bert.vocab_size, bert.hidden_size, bert.num_hidden_layers) == (30522, 768, 12)
    assert (hf.d_model, hf.num_queries, hf.encoder_layers, hf.decoder_layers) == (256, 900, 6, 6)
    py = groundingdino_args("swint-ogc")
    assert py.swin == dict(
        embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=7
    )
    assert (py.hidden_dim, py.num_queries, py.enc_layers, py.dec_layers) == (256, 900, 6, 6)
    assert py.use_checkpoint is False and py.use_transformer_ckpt is False
    assert py.bert == dict(vocab_size=30522)  # the rest are BertConfig's bert-base defaults


# ---------------------------------------------------------------- transformers backend


@pytest.fixture(scope="module")
def hf_tiny() -> HFGroundingDinoDetector:
    return build_grounding_dino("transformers", "tiny")


def test_hf_tiny_detects_each_pair_in_order(hf_tiny, images):
    assert isinstance(hf_tiny, Detector)
    pair_images = [images[0], images[0], images[1], images[1]]
    phrases = ["a cat", "the dog", "a cat", "the dog"]
    results = hf_tiny.detect(pair_images, phrases)
    assert len(results) == 4
    for result, image in zip(results, pair_images, strict=True):
        assert_well_formed(result, image)
    assert sum(len(r.scores) for r in results) > 0, "the tiny model should find something"
    # a pair's detections do not depend on the other pairs in the call (no padding between
    # images; captions of other lengths in the same forward)
    alone = hf_tiny.detect([images[1]], ["the dog"])[0]
    mixed = hf_tiny.detect([images[1], images[0], images[1]], ["the dog", "a cat", "a red hat"])
    for other in (results[3], mixed[0]):
        np.testing.assert_allclose(alone.boxes, other.boxes, rtol=0, atol=1e-3)
        np.testing.assert_allclose(alone.scores, other.scores, rtol=0, atol=1e-5)


def test_hf_tiny_is_seeded(hf_tiny, images):
    again = build_grounding_dino("transformers", "tiny")
    a = hf_tiny.detect(images[:1], ["cat"])[0]
    b = again.detect(images[:1], ["cat"])[0]
    assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.scores, b.scores)


def test_hf_save_and_load_through_default_variant(hf_tiny, images, tmp_path):
    hf_tiny.model.save_pretrained(tmp_path)
    hf_tiny.processor.save_pretrained(tmp_path)
    loaded = build_grounding_dino("transformers", "default", weights=tmp_path)
    phrases = ["a cat", "dog"]
    for a, b in zip(hf_tiny.detect(images, phrases), loaded.detect(images, phrases), strict=True):
        assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.scores, b.scores)


def test_hf_default_needs_weights(tmp_path, images, hf_tiny):
    with pytest.raises(ValueError, match="needs weights"):
        build_grounding_dino("transformers", "default")
    with pytest.raises(FileNotFoundError, match="config.json"):
        build_grounding_dino("transformers", "default", weights=tmp_path / "missing")
    with pytest.raises(ValueError, match="backend"):
        build_grounding_dino("detectron", "tiny")
    with pytest.raises(ValueError, match="variant"):
        build_grounding_dino("transformers", "huge")
    with pytest.raises(ValueError, match="box_threshold"):
        build_grounding_dino("transformers", "tiny", box_threshold=1.5)
    with pytest.raises(ValueError, match="2 images and 1 phrases"):
        hf_tiny.detect(images, ["cat"])


# ---------------------------------------------------------------- groundingdino-py backend


@pytest.fixture(scope="module")
def py_tiny():
    return build_grounding_dino("groundingdino-py", "tiny")


def test_groundingdino_py_tiny_detects_each_pair_in_order(py_tiny, images):
    assert isinstance(py_tiny, Detector)
    pair_images = [images[0], images[0], images[1], images[1]]
    phrases = ["a cat", "the dog", "a cat", "the dog"]
    results = py_tiny.detect(pair_images, phrases)
    assert len(results) == 4
    for result, image in zip(results, pair_images, strict=True):
        assert_well_formed(result, image)
    assert sum(len(r.scores) for r in results) > 0, "the tiny model should find something"
    # one pair per forward: a pair's result does not depend on the others
    alone = py_tiny.detect([images[1]], ["the dog"])[0]
    assert np.array_equal(alone.boxes, results[3].boxes)
    assert np.array_equal(alone.scores, results[3].scores)


def test_groundingdino_py_checkpoint_loads_through_default_path(py_tiny, images, tmp_path):
    from bpm_edit.models.grounding_dino_py import CHECKPOINT_NAME, build_groundingdino_py_detector

    state = {"module." + k: v for k, v in py_tiny.model.state_dict().items()}
    state["module.bert.embeddings.position_ids"] = torch.arange(256)[None]  # as old checkpoints
    path = tmp_path / CHECKPOINT_NAME
    torch.save({"model": state}, path)
    tokenizer_dir = tmp_path / "tokenizer"
    py_tiny.model.tokenizer.save_pretrained(tokenizer_dir)
    loaded = build_groundingdino_py_detector(
        "default", path, "cpu", None, 0.3, 0.25, tokenizer=tokenizer_dir, architecture="tiny"
    )
    phrases = ["a cat", "dog"]
    for a, b in zip(py_tiny.detect(images, phrases), loaded.detect(images, phrases), strict=True):
        assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.scores, b.scores)

    state["module.label_enc.weight"] = torch.zeros(2, 2)  # a key the model does not have
    torch.save({"model": state}, path)
    with pytest.warns(UserWarning, match="ignored 1 checkpoint keys.*label_enc.weight"):
        build_groundingdino_py_detector(
            "default", path, "cpu", None, 0.3, 0.25, tokenizer=tokenizer_dir, architecture="tiny"
        )
    del state["module.feat_map.weight"]
    torch.save({"model": state}, path)
    with pytest.raises(WeightsError, match="1 missing keys.*feat_map.weight"):
        build_groundingdino_py_detector(
            "default", path, "cpu", None, 0.3, 0.25, tokenizer=tokenizer_dir, architecture="tiny"
        )


def test_groundingdino_py_default_errors(tmp_path):
    with pytest.raises(ValueError, match="groundingdino_swint_ogc.pth"):
        build_grounding_dino("groundingdino-py", "default")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_grounding_dino("groundingdino-py", "default", weights=tmp_path / "none.pth")
    checkpoint = tmp_path / "groundingdino_swint_ogc.pth"
    torch.save({"model": {}}, checkpoint)
    with pytest.raises(FileNotFoundError, match="bert-base-uncased tokenizer"):
        build_grounding_dino(
            "groundingdino-py", "default", weights=checkpoint, tokenizer=tmp_path / "no-tok"
        )


def package_groundingdino(args, tokenizer):
    """The package's own `GroundingDINO.__init__`, its hub look-ups and `BertModelWarper`
    patched out (what `bpm_edit` did before `OfflineGroundingDINO`; tests only)."""
    from types import SimpleNamespace
    from unittest import mock

    from groundingdino.models.GroundingDINO import groundingdino as gd
    from groundingdino.models.GroundingDINO.backbone.backbone import Joiner
    from groundingdino.models.GroundingDINO.backbone.position_encoding import (
        build_position_encoding,
    )
    from groundingdino.models.GroundingDINO.backbone.swin_transformer import SwinTransformer
    from groundingdino.models.GroundingDINO.transformer import build_transformer
    from transformers import BertConfig, BertModel

    from bpm_edit.models.grounding_dino_py_model import BertTextEncoder

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
        return gd.GroundingDINO(
            backbone, transformer, num_queries=args.num_queries, aux_loss=True,
            iter_update=True, query_dim=4, num_feature_levels=args.num_feature_levels,
            nheads=args.nheads, dec_pred_bbox_embed_share=args.dec_pred_bbox_embed_share,
            two_stage_type=args.two_stage_type,
            two_stage_bbox_embed_share=args.two_stage_bbox_embed_share,
            two_stage_class_embed_share=args.two_stage_class_embed_share,
            num_patterns=args.num_patterns, dn_number=0,
            dn_box_noise_scale=args.dn_box_noise_scale,
            dn_label_noise_ratio=args.dn_label_noise_ratio,
            dn_labelbook_size=args.dn_labelbook_size, text_encoder_type=args.text_encoder_type,
            sub_sentence_present=args.sub_sentence_present, max_text_len=args.max_text_len,
        )  # fmt: skip


def test_offline_groundingdino_is_the_packages_model(py_tiny, images):
    """Same modules, parameter names, seeded weights and outputs as the package's own
    constructor, with no patching in `bpm_edit`."""
    from bpm_edit.models.grounding_dino_py_model import (
        build_groundingdino_model,
        groundingdino_args,
    )

    tokenizer = bert_tokenizer(wordpiece_vocab())
    models = []
    for build in (package_groundingdino, build_groundingdino_model):
        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
            warnings.simplefilter("ignore")
            torch.manual_seed(0)
            models.append(build(groundingdino_args("tiny"), tokenizer).eval())
    theirs, ours = models
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    for name in ("num_queries", "max_text_len", "specical_tokens", "two_stage_type", "dn_number"):
        assert getattr(ours, name) == getattr(theirs, name), name
    pixels = py_tiny.preprocess(images[0])[None]
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        a, b = (model(pixels, captions=["a cat."]) for model in (theirs, ours))
    assert torch.equal(a["pred_logits"], b["pred_logits"])
    assert torch.equal(a["pred_boxes"], b["pred_boxes"])
    # The built detector holds this model with these weights (same seed as the builder).
    assert type(py_tiny.model).__name__ == "OfflineGroundingDINO"
    for key, value in ours.state_dict().items():
        assert torch.equal(py_tiny.model.state_dict()[key], value), key


def test_product_code_patches_no_module():
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "bpm_edit"
    patching = [p.name for p in package.rglob("*.py") if "unittest" in p.read_text()]
    assert patching == []


@pytest.mark.parametrize("backend", ["transformers", "groundingdino-py"])
def test_thresholds_per_call_and_a_working_size_fixed_at_construction(backend, images):
    detector = build_grounding_dino(backend, "tiny")
    phrases = ["a cat", "the dog"]
    for box, text in ((0.0, 0.0), (0.3, 0.25), (0.5, 0.6)):
        own = build_grounding_dino(backend, "tiny", box_threshold=box, text_threshold=text)
        passed = detector.detect(images, phrases, box_threshold=box, text_threshold=text)
        for a, b in zip(passed, own.detect(images, phrases), strict=True):
            assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.scores, b.scores)
    assert (detector.box_threshold, detector.text_threshold) == (0.3, 0.25)  # unchanged
    with pytest.raises(ValueError, match="text_threshold must lie in"):
        detector.detect(images, phrases, text_threshold=1.5)

    assert detector.detection_size == {"shortest_edge": 128, "longest_edge": 224}
    small = {"shortest_edge": 96, "longest_edge": 160}
    built = build_grounding_dino(backend, "tiny", detection_size=small)
    derived = detector.with_detection_size(small)
    assert built.detection_size == derived.detection_size == small
    assert derived.model is detector.model
    assert detector.detection_size == {"shortest_edge": 128, "longest_edge": 224}
    for a, b in zip(built.detect(images, phrases), derived.detect(images, phrases), strict=True):
        assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.scores, b.scores)
    detector.detection_size["shortest_edge"] = 1  # a copy: the detector keeps its own
    assert detector.detection_size["shortest_edge"] == 128
    with pytest.raises(AttributeError):
        detector.detection_size = small
    with pytest.raises(ValueError, match="shortest_edge <= longest_edge"):
        build_grounding_dino(backend, "tiny", detection_size={"shortest_edge": 200,
                                                              "longest_edge": 100})  # fmt: skip


def test_hf_working_size_is_the_resize_of_each_image():
    detector = build_grounding_dino(
        "transformers", "tiny", detection_size={"shortest_edge": 96, "longest_edge": 160}
    )
    image = Image.new("RGB", (64, 48))
    seen = []
    original = detector._detect_batch

    def record(pixel_values, *args):
        seen.append(tuple(pixel_values.shape))
        return original(pixel_values, *args)

    detector._detect_batch = record
    detector.detect([image], ["a cat"])
    assert seen == [(1, 3, 96, 128)]
    assert detector.processor.image_processor.size["shortest_edge"] == 128  # not changed


def test_hf_post_processing_agrees_with_the_processors(hf_tiny, images):
    """Boxes and scores as transformers' `post_process_grounded_object_detection` computes
    them (its text threshold only labels boxes; ours also drops boxes without a phrase token
    above it, so compare with a text threshold of 0)."""
    processor = hf_tiny.processor
    image = images[0]
    pixels = processor.image_processor(images=image.convert("RGB"), return_tensors="pt")
    text = processor.tokenizer(["a cat."], return_tensors="pt")
    with torch.no_grad():
        outputs = hf_tiny.model(**pixels, **text)
    theirs = processor.post_process_grounded_object_detection(
        outputs,
        text["input_ids"],
        threshold=0.3,
        text_threshold=0.0,
        target_sizes=[image.size[::-1]],
    )[0]
    separators = processor.tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", "[PAD]", "."])
    phrase = phrase_token_mask(text["input_ids"][0], separators, outputs.logits.shape[-1])
    ours = grounded_detections(
        outputs.logits.sigmoid()[0], outputs.pred_boxes[0], phrase, image.size, 0.3, 0.0
    )
    order = torch.argsort(theirs["scores"], descending=True, stable=True)
    width, height = image.size
    expected = theirs["boxes"][order].clamp(min=0)
    expected[:, 0::2] = expected[:, 0::2].clamp(max=width)
    expected[:, 1::2] = expected[:, 1::2].clamp(max=height)
    assert len(ours.scores) == len(order) > 0
    np.testing.assert_allclose(ours.scores, theirs["scores"][order].numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.boxes, expected.numpy(), rtol=0, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_groundingdino_py_low_precision_runs_under_autocast(dtype, py_tiny, images):
    """The 2023 code makes float32 tensors inside its forward: the weights stay float32 and
    float16 / bfloat16 run under `torch.autocast` (casting the model crashed: mat1 and mat2
    must have the same dtype)."""
    detector = build_grounding_dino("groundingdino-py", "tiny", None, "cpu", dtype)
    assert detector.dtype == dtype
    assert {p.dtype for p in detector.model.parameters()} == {torch.float32}
    phrases = ["a cat", "the dog"]
    low = detector.detect(images, phrases)
    for result, image in zip(low, images, strict=True):
        assert_well_formed(result, image)
    assert sum(len(r.scores) for r in low) > 0
    full = py_tiny.detect(images, phrases)
    assert not all(np.array_equal(a.boxes, b.boxes) for a, b in zip(low, full, strict=True)), (
        "the low precision must actually be used"
    )
    assert detector.with_detection_size(detector.detection_size).dtype == dtype
    assert py_tiny.dtype == torch.float32


def test_groundingdino_py_refuses_other_dtypes():
    with pytest.raises(ConfigError, match=r"groundingdino-py backend.*float64.*transformers"):
        build_grounding_dino("groundingdino-py", "tiny", None, "cpu", torch.float64)
