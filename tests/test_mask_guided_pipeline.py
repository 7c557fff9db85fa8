"""Masked text guidance (Eq. 4) against diffusers' own IP2P pipeline, on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionInstructPix2PixPipeline
from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback
from PIL import Image

from pipelines.editing_models import build_tiny_pipeline
from pipelines.masks import MaskError, as_mask_batch, broadcast_to_batch, to_latent_mask

PROMPT = "make the cat red"
STEPS = 2


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pipe():
    pipeline = build_tiny_pipeline(seed=0)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


@pytest.fixture(scope="module")
def parent(pipe):
    pipeline = StableDiffusionInstructPix2PixPipeline(
        **pipe.components, requires_safety_checker=False
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


@pytest.fixture(scope="module")
def image():
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def run(pipeline, image, seed=0, **kwargs):
    kwargs.setdefault("output_type", "np")
    return pipeline(
        kwargs.pop("prompt", PROMPT),
        image=image,
        num_inference_steps=STEPS,
        generator=kwargs.pop("generator", torch.Generator().manual_seed(seed)),
        **kwargs,
    ).images


class TextTermReplacedByImageTerm:
    """UNet forward hook for the PARENT pipeline: eps(z, I, T) := eps(z, I, 0).

    The parent then computes uncond + s_T * 0 + s_I (image - uncond): no text guidance.
    """

    def __init__(self, keep: list[bool] | None = None):
        self.keep = keep  # per sample: True keeps the text term

    def __call__(self, module, args, output):
        text, image_only, uncond = output[0].chunk(3)
        replaced = image_only.clone()
        if self.keep is not None:
            for index, keep in enumerate(self.keep):
                if keep:
                    replaced[index] = text[index]
        return (torch.cat([replaced, image_only, uncond]), *output[1:])


def run_parent_without_text(parent, image, keep=None, **kwargs):
    handle = parent.unet.register_forward_hook(TextTermReplacedByImageTerm(keep))
    try:
        return run(parent, image, **kwargs)
    finally:
        handle.remove()


# ------------------------------------------------------------------ equivalences


def test_no_mask_and_all_ones_mask_equal_the_parent_bit_for_bit(pipe, parent, image):
    reference = run(parent, image)
    assert np.array_equal(run(pipe, image), reference)
    assert np.array_equal(run(pipe, image, mask=np.ones((32, 32), bool)), reference)
    assert np.array_equal(run(pipe, image, mask=Image.new("L", (7, 5), 255)), reference)
    # Blending with an all-ones mask keeps every latent: still the parent's result.
    blended = run(pipe, image, mask=torch.ones(1, 1, 9, 9), preserve_blend=True)
    assert np.array_equal(blended, reference)


def test_all_zeros_mask_equals_no_text_guidance(pipe, parent, image):
    masked = run(pipe, image, mask=np.zeros((32, 32), np.float32))
    assert np.array_equal(masked, run_parent_without_text(parent, image))
    assert not np.array_equal(masked, run(parent, image))


def test_fractional_mask_interpolates_the_text_term(pipe, parent, image):
    """With M = 0.5 everywhere the text term is halved: same as s_T / 2 (up to rounding)."""
    half = run(pipe, image, mask=np.full((4, 4), 0.5, np.float32), output_type="latent")
    halved_scale = run(parent, image, guidance_scale=7.5 / 2, output_type="latent")
    assert torch.allclose(half, halved_scale, atol=1e-5)
    assert not torch.allclose(half, run(parent, image, output_type="latent"), atol=1e-3)


def test_each_mask_of_a_batch_applies_to_its_own_sample(pipe, parent, image):
    images = [image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    prompts = [PROMPT, "turn the dog blue"]

    def generators():
        return [torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)]

    masks = [np.ones((8, 8)), np.zeros((32, 32))]
    masked = run(pipe, images, prompt=prompts, generator=generators(), mask=masks)
    expected = run_parent_without_text(
        parent, images, keep=[True, False], prompt=prompts, generator=generators()
    )
    assert np.allclose(masked, expected, atol=1e-6)
    full = run(parent, images, prompt=prompts, generator=generators())
    assert np.allclose(masked[0], full[0], atol=1e-6)
    assert not np.allclose(masked[1], full[1], atol=1e-3)


def test_per_prompt_masks_follow_diffusers_sample_order(pipe, parent, image):
    """Regression: masks were tiled [m0, m1, m0, m1] while diffusers orders the samples
    [p0, p0, p1, p1], so prompt 0's second sample got prompt 1's mask."""
    prompts = [PROMPT, "turn the dog blue"]

    def generators():
        return [torch.Generator().manual_seed(seed) for seed in range(4)]

    masks = [np.ones((8, 8)), np.zeros((8, 8))]
    masked = run(pipe, image, prompt=prompts, num_images_per_prompt=2,
                 generator=generators(), mask=masks)
    expected = run_parent_without_text(parent, image, keep=[True, True, False, False],
                                       prompt=prompts, num_images_per_prompt=2,
                                       generator=generators())
    assert np.allclose(masked, expected, atol=1e-6)


def test_one_mask_serves_num_images_per_prompt(pipe, parent, image):
    out = run(pipe, image, mask=np.zeros((16, 16)), num_images_per_prompt=2)
    assert out.shape == (2, 32, 32, 3)
    assert np.array_equal(out, run_parent_without_text(parent, image, num_images_per_prompt=2))


def test_masks_of_any_type_and_size_give_the_same_result(pipe, image):
    left_half = np.zeros((100, 100), np.uint8)
    left_half[:, :50] = 255
    small = torch.zeros(16, 16, dtype=torch.bool)
    small[:, :8] = True
    from_pil = run(pipe, image, mask=Image.fromarray(left_half))
    assert np.array_equal(from_pil, run(pipe, image, mask=small))
    assert np.array_equal(from_pil, run(pipe, image, mask=left_half[None, None] / 255.0))


def test_two_runs_with_one_seed_are_identical(pipe, image):
    mask = np.random.default_rng(3).random((20, 20)).astype(np.float32)
    first = run(pipe, image, seed=5, mask=mask, mask_dilation=1, mask_feather=1)
    second = run(pipe, image, seed=5, mask=mask, mask_dilation=1, mask_feather=1)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, run(pipe, image, seed=6, mask=mask))


def test_preserve_blend_with_empty_mask_returns_the_original_latents(pipe, image):
    latents = run(pipe, image, mask=np.zeros((32, 32)), preserve_blend=True, output_type="latent")
    tensor = pipe.image_processor.preprocess(image)
    original = pipe.vae.encode(tensor).latent_dist.mode() * pipe.vae.config.scaling_factor
    assert torch.equal(latents, original)


def test_callback_on_step_end_sees_every_step_with_and_without_blend(pipe, image):
    for blend in (False, True):
        seen = []

        def callback(pipeline, step, timestep, tensors, seen=seen):
            seen.append((step, sorted(tensors)))
            return {"latents": tensors["latents"]}

        run(
            pipe,
            image,
            mask=np.ones((4, 4)),
            preserve_blend=blend,
            callback_on_step_end=callback,
            callback_on_step_end_tensor_inputs=["latents", "prompt_embeds"],
        )
        assert seen == [(0, ["latents", "prompt_embeds"]), (1, ["latents", "prompt_embeds"])]


def test_pipeline_callback_objects_keep_their_tensor_inputs_with_blend(pipe, image):
    class Recorder(PipelineCallback):
        tensor_inputs = ["latents", "image_latents"]

        def __init__(self):
            super().__init__()
            self.seen = []

        def callback_fn(self, pipeline, step_index, timestep, callback_kwargs):
            self.seen.append(sorted(callback_kwargs))
            return callback_kwargs

    recorder = Recorder()
    run(pipe, image, mask=np.ones((4, 4)), preserve_blend=True, callback_on_step_end=recorder)
    assert recorder.seen == [["image_latents", "latents"]] * STEPS


@pytest.mark.parametrize("multi", [False, True])
def test_blend_passes_every_tensor_a_pipeline_callback_asks_for(pipe, image, multi):
    """Regression: with preserve_blend a PipelineCallback asking for tensors beyond the
    latents raised KeyError: 'prompt_embeds'."""

    class Recorder(PipelineCallback):
        tensor_inputs = ["latents", "prompt_embeds"]

        def __init__(self):
            super().__init__()
            self.seen = []

        def callback_fn(self, pipeline, step_index, timestep, callback_kwargs):
            self.seen.append(sorted(callback_kwargs))
            return callback_kwargs

    recorder = Recorder()
    callback = MultiPipelineCallbacks([recorder]) if multi else recorder
    blended = run(pipe, image, mask=np.zeros((4, 4)), preserve_blend=True,
                  callback_on_step_end=callback, output_type="latent")
    assert recorder.seen == [["latents", "prompt_embeds"]] * STEPS
    plain = run(pipe, image, mask=np.zeros((4, 4)), preserve_blend=True, output_type="latent")
    assert torch.equal(blended, plain)


def test_model_cpu_offload_keeps_results(image):
    plain = build_tiny_pipeline(seed=0)
    plain.set_progress_bar_config(disable=True)
    offloaded = build_tiny_pipeline(seed=0)
    offloaded.set_progress_bar_config(disable=True)
    offloaded.enable_model_cpu_offload(device="cpu")
    mask = np.zeros((32, 32))
    mask[8:24, 8:24] = 1
    assert np.array_equal(run(offloaded, image, mask=mask), run(plain, image, mask=mask))


def test_pipeline_errors_are_clear(pipe, image):
    with pytest.raises(MaskError, match="classifier-free guidance"):
        run(pipe, image, mask=np.ones((4, 4)), guidance_scale=1.0)
    with pytest.raises(MaskError, match="preserve_blend=True needs a mask"):
        run(pipe, image, preserve_blend=True)
    with pytest.raises(MaskError, match=r"3 masks for 1 prompt\(s\) x 2 image\(s\) per prompt"):
        run(pipe, image, mask=np.ones((3, 4, 4)), num_images_per_prompt=2)
    with pytest.raises(MaskError, match="mask_feather"):
        run(pipe, image, mask=np.ones((4, 4)), mask_feather=-1)


# ------------------------------------------------------------------ latent masks


def test_max_pooling_keeps_a_single_pixel():
    mask = torch.zeros(16, 16)
    mask[5, 9] = 1
    samples = as_mask_batch(mask)
    assert torch.equal(to_latent_mask(samples, (2, 2)), torch.tensor([[[[0.0, 1.0], [0.0, 0.0]]]]))


def test_non_integer_ratio_and_upsampling():
    mask = np.zeros((100, 100), bool)
    mask[:, :50] = True
    latent = to_latent_mask(as_mask_batch(mask), (32, 32))
    assert torch.equal(latent[0, 0, 0], torch.tensor([1.0] * 16 + [0.0] * 16))
    tiny = torch.tensor([[0.0, 1.0]])
    up = to_latent_mask(as_mask_batch(tiny), (2, 4))
    assert torch.equal(up, torch.tensor([[[[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]]]))


def test_dilation_feather_and_floor_values():
    mask = torch.zeros(7, 7)
    mask[3, 3] = 1
    dilated = to_latent_mask(as_mask_batch(mask), (7, 7), dilation=1)
    assert dilated[0, 0].sum() == 9 and dilated[0, 0, 2:5, 2:5].min() == 1
    shaped = to_latent_mask(as_mask_batch(mask), (7, 7), feather=2, floor=0.1)[0, 0]
    assert shaped[3, 3] == pytest.approx(1.0)
    assert shaped[2, 2] == pytest.approx(0.1 + 0.9 * 2 / 3)
    assert shaped[1, 3] == pytest.approx(0.1 + 0.9 * 1 / 3)
    assert shaped[0, 0] == pytest.approx(0.1)


def test_mask_forms_and_dtypes():
    pil = Image.fromarray(np.array([[0, 255], [128, 0]], np.uint8))
    assert torch.allclose(as_mask_batch(pil)[0], torch.tensor([[[[0.0, 1.0], [128 / 255, 0.0]]]]))
    assert as_mask_batch(Image.new("1", (3, 2), 1))[0].shape == (1, 1, 2, 3)
    assert as_mask_batch(Image.new("RGB", (3, 2), (255, 255, 255)))[0].max() == 1.0
    batch = as_mask_batch(np.zeros((3, 4, 5), bool))
    assert len(batch) == 3 and batch[0].shape == (1, 1, 4, 5)
    mixed = as_mask_batch([np.ones((4, 4), bool), torch.zeros(1, 8, 6)])
    assert [m.shape for m in mixed] == [(1, 1, 4, 4), (1, 1, 8, 6)]
    # One mask per prompt follows diffusers' sample order [p0, p0, p1, p1].
    assert broadcast_to_batch(mixed, 2, 2) == [mixed[0], mixed[0], mixed[1], mixed[1]]
    assert broadcast_to_batch(mixed, 1, 2) == mixed
    assert broadcast_to_batch(mixed[:1], 2, 2) == [mixed[0]] * 4
    with pytest.raises(MaskError, match=r"got 2 masks for 3 prompt\(s\) x 2 image\(s\)"):
        broadcast_to_batch(mixed, 3, 2)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        ("mask.png", "expected a PIL image, numpy array, torch tensor"),
        (np.full((4, 4), 2.0), r"\[0, 1\]"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.ones((4, 4), np.int64), "unsupported mask dtype"),
        (np.ones((1, 3, 4, 4)), r"\(B, 1, H, W\)"),
        (np.ones((1, 1, 1, 4, 4)), r"\(H, W\), \(B, H, W\)"),
        (np.ones((0, 4)), "zero size"),
        ([], "empty list"),
        ([np.ones((2, 4, 4))], r"mask\[0\]: a list item must be one mask"),
    ],
)
def test_bad_masks_raise_clear_errors(mask, message):
    with pytest.raises(MaskError, match=message):
        as_mask_batch(mask)
