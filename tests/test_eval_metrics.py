"""Baseline metrics on tiny known images: exact values where they are known by hand, the
shared interface, the weight registry path, and the VLM judge against a real local HTTP
server."""

from __future__ import annotations

import json
import math
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evaluation.items import EditItem
from evaluation.metrics import (
    LOWER_IS_BETTER,
    METRIC_CHOICES,
    EditMetric,
    FatalMetricError,
    MetricOutput,
    build_metrics,
    parse_metric_names,
)


def _save(path: Path, array: np.ndarray) -> str:
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return str(path)


def _item(original: str, edited: str, item_id: str = "a", instruction: str = "make it red",
          **extra) -> EditItem:
    return EditItem(item_id=item_id, input_id="in", original=original, edited=edited,
                    instruction=instruction, model="m", **extra)


@pytest.fixture()
def images(tmp_path: Path) -> dict[str, str]:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (64, 64, 3))
    patched = noise.copy()
    patched[8:40, 8:40] = (200, 30, 30)
    black = np.zeros((4, 4, 3))
    one_white = black.copy()
    one_white[1, 2] = 255
    return {
        "noise": _save(tmp_path / "noise.png", noise),
        "noise_copy": _save(tmp_path / "noise_copy.png", noise),
        "patched": _save(tmp_path / "patched.png", patched),
        "black": _save(tmp_path / "black.png", black),
        "one_white": _save(tmp_path / "one_white.png", one_white),
        "red51": _save(tmp_path / "red51.png", np.full((4, 4, 3), (51, 0, 0))),
        "red51_big": _save(tmp_path / "red51_big.png", np.full((8, 6, 3), (51, 0, 0))),
    }


# ------------------------------------------------------------------------------ L2


def test_l2_exact_values_by_hand(images):
    (l2,) = build_metrics(["l2"], models="tiny")
    outputs = l2.score_batch([
        _item(images["black"], images["black"]),
        _item(images["black"], images["one_white"]),
        _item(images["black"], images["red51"]),
        _item(images["black"], images["red51_big"]),
    ])
    # identical -> 0
    assert outputs[0] == MetricOutput(0.0, {}, ())
    # one pixel of 16 differs by 1.0 in all 3 channels: sqrt(3 / 48) = 0.25
    assert outputs[1].score == pytest.approx(0.25, abs=1e-12)
    # red channel 0.2 everywhere: sqrt(0.2**2 / 3)
    assert outputs[2].score == pytest.approx(math.sqrt(0.04 / 3), abs=1e-12)
    # a uniform image of another size is resized to the original's: same value, flagged
    assert outputs[3].score == pytest.approx(math.sqrt(0.04 / 3), abs=1e-12)
    assert outputs[3].flags == ("edited_resized",)
    assert l2.higher_is_better is False


def test_l2_is_symmetric_in_float_not_uint8(images):
    (l2,) = build_metrics(["l2"], models="tiny")
    a, b = l2.score_batch([_item(images["black"], images["one_white"]),
                           _item(images["one_white"], images["black"])])
    assert a.score == b.score == pytest.approx(0.25)


def test_missing_file_is_a_clear_error(images, tmp_path):
    (l2,) = build_metrics(["l2"], models="tiny")
    with pytest.raises(ValueError, match="edited: file not found"):
        l2.score_batch([_item(images["black"], str(tmp_path / "nope.png"))])


# ---------------------------------------------------------------------------- CLIP


def test_clip_metrics_tiny(images):
    clip_i, clip_t, clip_sum = build_metrics(["clip-i", "clipscore", "clip-t+i"], models="tiny")
    assert clip_i.features is clip_t.features is clip_sum.features  # built once
    items = [_item(images["noise"], images["noise_copy"]),
             _item(images["noise"], images["patched"], item_id="b", instruction="a red square")]
    same, changed = clip_i.score_batch(items)
    assert same.score == pytest.approx(1.0, abs=1e-6)  # identical pixels, different files
    assert -1.0 <= changed.score < 1.0
    texts = clip_t.score_batch(items)
    encoder = clip_t.features.encoder
    edited = encoder.encode_images([Image.open(images["noise_copy"]).convert("RGB"),
                                    Image.open(images["patched"]).convert("RGB")])
    words = encoder.encode_texts(["make it red", "a red square"])
    for output, image_row, text_row in zip(texts, edited, words, strict=True):
        assert output.score == pytest.approx(float(np.dot(image_row, text_row)), abs=1e-5)
    sums = clip_sum.score_batch(items)
    for total, i_out, t_out in zip(sums, [same, changed], texts, strict=True):
        assert total.components == pytest.approx({"clip_t": t_out.score, "clip_i": i_out.score})
        assert total.score == pytest.approx(t_out.score + i_out.score)
    assert clip_t.settings()["text"] == "instruction"


# -------------------------------------------------------------------- LPIPS and DINO


def test_lpips_identical_is_zero_and_matches_the_lpips_package(images):
    import torch

    (metric,) = build_metrics(["lpips"], models="tiny")
    same, changed = metric.score_batch([_item(images["noise"], images["noise_copy"]),
                                        _item(images["noise"], images["patched"], "b")])
    assert same.score == pytest.approx(0.0, abs=1e-7)
    assert changed.score > 0
    lpips = pytest.importorskip("lpips")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package uses torchvision's deprecated args
        reference = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False)
    slices = {}
    for name, value in metric.network.trunk.state_dict().items():
        index = int(name.split(".")[0])
        stage = 1 + sum(index > end for end in (1, 4, 7, 9))
        slices[f"net.slice{stage}.{name}"] = value
    reference.load_state_dict(slices, strict=False)
    x = torch.from_numpy(np.asarray(Image.open(images["noise"]), np.float32) / 127.5 - 1)
    y = torch.from_numpy(np.asarray(Image.open(images["patched"]), np.float32) / 127.5 - 1)
    with torch.no_grad():
        expected = reference(x.permute(2, 0, 1)[None], y.permute(2, 0, 1)[None]).item()
    assert changed.score == pytest.approx(expected, rel=1e-5)


def test_lpips_default_loads_the_trunk_through_the_registry(images, tmp_path):
    import torch
    from torchvision.models import alexnet

    torch.manual_seed(5)
    trunk_file = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(alexnet(weights=None).state_dict(), trunk_file)
    (metric,) = build_metrics(["lpips"], models="default",
                              weights={"lpips_alexnet": str(tmp_path)})
    state = torch.load(trunk_file, weights_only=True)
    assert torch.equal(metric.network.trunk[0].weight, state["features.0.weight"])
    (output,) = metric.score_batch([_item(images["noise"], images["patched"])])
    assert output.score > 0


def test_dino_tiny_and_default_from_a_local_copy(images, tmp_path):
    (tiny,) = build_metrics(["dino"], models="tiny")
    items = [_item(images["noise"], images["noise_copy"]),
             _item(images["noise"], images["patched"], "b")]
    same, changed = tiny.score_batch(items)
    assert same.score == pytest.approx(1.0, abs=1e-6)
    assert changed.score < 1.0
    tiny.model.save_pretrained(tmp_path / "dino-vits16")
    (local,) = build_metrics(["dino"], models="default",
                             weights={"dino": str(tmp_path / "dino-vits16")})
    assert [o.score for o in local.score_batch(items)] == pytest.approx(
        [same.score, changed.score], abs=1e-6)


def test_default_weights_missing_offline_name_the_flag(monkeypatch, tmp_path):
    from bpm_edit.models.weights import WeightsNotFoundError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("BPM_EDIT_WEIGHTS", raising=False)
    with pytest.raises(WeightsNotFoundError, match="--dino-weights"):
        build_metrics(["dino"], models="default")


# ---------------------------------------------------------------------- the factory


def test_names_aliases_and_errors():
    assert parse_metric_names("BPM, l2,clipscore,CLIP-T,dinoscore") == [
        "bpm", "l2", "clip-t", "dino"]
    with pytest.raises(ValueError, match="unknown metric 'ssim'; choose from: bpm, l2"):
        parse_metric_names("l2,ssim")
    with pytest.raises(ValueError, match="no metric given"):
        parse_metric_names(" , ")
    with pytest.raises(ValueError, match="models must be one of .* got 'small'"):
        build_metrics(["l2"], models="small")
    with pytest.raises(ValueError, match="--vlm-url"):
        build_metrics(["vlm"], models="tiny")


def test_directions_agree_with_the_alignment_protocol(images):
    metrics = build_metrics(["l2", "lpips", "clip-i", "clip-t", "clip-t+i", "dino"],
                            models="tiny")
    metrics.append(build_metrics(["vlm"], vlm_options={"base_url": "http://127.0.0.1:9",
                                                       "model": "m"})[0])
    for metric in metrics:
        assert isinstance(metric, EditMetric)
        assert metric.higher_is_better == (metric.name not in LOWER_IS_BETTER), metric.name
        json.dumps(metric.settings())  # part of every result key
    assert {m.name for m in metrics} | {"bpm"} == set(METRIC_CHOICES)


def test_bpm_metric_records_the_components(tmp_path):
    from evaluation.datasets import load_plain
    from evaluation.synthetic import write_synthetic_dataset

    items = load_plain(write_synthetic_dataset(tmp_path)).items[:2]
    (bpm,) = build_metrics(["bpm"], models="tiny", use_dataset_masks=True)
    outputs = bpm.score_batch(items)
    for output in outputs:
        assert set(output.components) == {"s_modify", "s_preserve", "s_size", "s_position",
                                          "s_semantic", "s_region"}
        c = output.components
        assert output.score == pytest.approx(0.7 * c["s_semantic"] + 0.3 * c["s_region"])
    assert bpm.settings()["use_dataset_masks"] is True
    assert "object at 0x" not in json.dumps(bpm.settings())  # stable across runs


def test_bpm_result_key_ignores_the_sam_batch_size_but_not_the_speed_options():
    from bpm_edit.parsing.rules.parser import RulesParser

    def settings(**options):
        (bpm,) = build_metrics(["bpm"], models="tiny", **options)
        return bpm.settings()

    assert settings(sam_batch_size=4) == settings()  # same scores: finished records stay
    assert settings()["parser"]["id"] == RulesParser.parser_id  # a new grammar: a new key
    assert settings(detection_size=96)["detection_size"] == 96
    assert settings(sam_dtype="bfloat16") != settings()


def test_baseline_keys_tag_the_weights_they_resolved(images, tmp_path, monkeypatch):
    """A DINO checkpoint found through $BPM_EDIT_WEIGHTS (not passed explicitly) is in
    the metric's settings, so another checkpoint there gives other result keys."""
    (tiny,) = build_metrics(["dino"], models="tiny")
    tiny.model.save_pretrained(tmp_path / "dino-vits16")
    monkeypatch.setenv("BPM_EDIT_WEIGHTS", str(tmp_path))
    (found,) = build_metrics(["dino"], models="default")
    tag = found.settings()["dino"]["weights"]
    assert tag.startswith(str((tmp_path / "dino-vits16").resolve()))
    config = tmp_path / "dino-vits16" / "config.json"
    config.write_text(config.read_text() + " ")
    (again,) = build_metrics(["dino"], models="default")
    assert again.settings()["dino"]["weights"] != tag


# ------------------------------------------------------------------- the VLM judge


class _Endpoint(BaseHTTPRequestHandler):
    """A chat-completions endpoint whose answer depends on the instruction text."""

    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body,
                                    "auth": self.headers.get("Authorization")})
        text = body["messages"][1]["content"][0]["text"]
        if "server error" in text:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"boom")
            return
        if "garbage" in text:
            answer = "I think it is pretty good, maybe 7 or so."
        elif "out of range" in text:
            answer = '{"reason": "x", "instruction": 12, "preservation": 5, "quality": 5}'
        else:
            answer = ('Sure.\n```json\n{"reason": "the {cat} is red", "instruction": 8, '
                      '"preservation": 6, "quality": 9}\n```')
        payload = json.dumps({"choices": [{"message": {"role": "assistant",
                                                       "content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture()
def endpoint():
    _Endpoint.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_vlm_judge_against_a_real_http_server(endpoint, images):
    (judge,) = build_metrics(["vlm"], vlm_options={
        "base_url": endpoint, "model": "judge-model", "api_key": "secret", "max_retries": 0,
        "concurrency": 2})
    good, garbage, out_of_range = judge.score_batch([
        _item(images["noise"], images["patched"], "a", "make the square red"),
        _item(images["noise"], images["patched"], "b", "garbage please"),
        _item(images["noise"], images["patched"], "c", "out of range"),
    ])
    assert good.components == {"instruction": 8.0, "preservation": 6.0, "quality": 9.0}
    assert good.score == pytest.approx(math.sqrt(6 * 9) / 10)
    assert good.flags == ()
    assert garbage.score is None and garbage.flags == ("vlm_unparseable",)
    assert out_of_range.score is None and out_of_range.flags == ("vlm_out_of_range",)
    request = _Endpoint.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer secret"
    body = request["body"]
    assert body["model"] == "judge-model" and body["temperature"] == 0
    parts = body["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url"]
    assert all(p["image_url"]["url"].startswith("data:image/png;base64,") for p in parts[1:])
    assert "secret" not in json.dumps(judge.settings())


def test_vlm_judge_http_500_is_the_items_error(endpoint, images):
    from evaluation.metrics.vlm_judge import VLMRequestError

    (judge,) = build_metrics(["vlm"], vlm_options={
        "base_url": endpoint, "model": "m", "max_retries": 1, "retry_backoff_s": 0.01})
    with pytest.raises(VLMRequestError, match=r"answered HTTP 500: boom"):
        judge.score_batch([_item(images["noise"], images["patched"], instruction="server error")])
    assert len(_Endpoint.requests) == 2  # one retry


def test_vlm_judge_unreachable_endpoint_is_fatal_and_names_the_url(images):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    (judge,) = build_metrics(["vlm"], vlm_options={"base_url": url, "model": "m",
                                                   "max_retries": 0})
    with pytest.raises(FatalMetricError, match=f"127.0.0.1:{port}/v1/chat/completions is "
                                               "unreachable"):
        judge.score_batch([_item(images["noise"], images["patched"])])


def test_vlm_answer_parsing():
    from evaluation.metrics.vlm_judge import parse_ratings

    assert parse_ratings('{"instruction": 3, "preservation": "4", "quality": 10}') == (
        {"instruction": 3.0, "preservation": 4.0, "quality": 10.0}, None)
    assert parse_ratings('{"instruction": 3, "quality": 10}') == (None, "vlm_unparseable")
    assert parse_ratings('{"instruction": true, "preservation": 1, "quality": 1}') == (
        None, "vlm_unparseable")
    assert parse_ratings('{"instruction": NaN, "preservation": 1, "quality": 1}') == (
        None, "vlm_out_of_range")
    assert parse_ratings("") == (None, "vlm_unparseable")


def test_vlm_judge_in_the_runner_repeats_no_answered_request(endpoint, images, tmp_path):
    from evaluation.runner import evaluate, read_records

    (judge,) = build_metrics(["vlm"], vlm_options={
        "base_url": endpoint, "model": "m", "max_retries": 0, "concurrency": 3})
    items = [_item(images["noise"], images["patched"], "a", "make the square red"),
             _item(images["noise"], images["patched"], "b", "server error"),
             _item(images["noise"], images["patched"], "c", "garbage")]
    out = tmp_path / "results.jsonl"
    summary = evaluate(items, [judge], out, batch_size=3, progress=False)
    records = {r["item_id"]: r for r in read_records(out)}
    assert summary.errors == 1 and records["b"]["error"].startswith("VLMRequestError")
    assert records["a"]["score"] == pytest.approx(math.sqrt(54) / 10)
    assert records["c"]["score"] is None and records["c"]["flags"] == ["vlm_unparseable"]
    texts = [r["body"]["messages"][1]["content"][0]["text"] for r in _Endpoint.requests]
    assert sum("server error" in t for t in texts) == 2  # the batch, then the retry
    assert len(texts) == 4  # a and c were asked once
