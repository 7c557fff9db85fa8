"""InstructPix2Pix with region-masked text guidance (BPM paper, Sec. 3.5, Eq. 4).

    eps = eps(z, 0, 0) + s_I (eps(z, I, 0) - eps(z, 0, 0)) + s_T (eps(z, I, T) - eps(z, I, 0)) * M

The parent pipeline (diffusers' `StableDiffusionInstructPix2PixPipeline`) runs the three
passes as one UNet batch `[text+image, image, unconditional]` and combines them inline
in its `__call__` as `uncond + s_T (text - image) + s_I (image - uncond)`. Instead of
copying that loop, this subclass hooks the UNet's output for the duration of a call and
replaces the text+image prediction by `lerp(image, text, M)`; the parent's own formula
then yields Eq. 4 (up to float rounding for fractional M). `torch.lerp` returns its end
points exactly, so M = 1 reproduces the parent bit for bit and M = 0 turns text guidance
off exactly. Everything else (schedulers, generators, `callback_on_step_end`,
`num_images_per_prompt`, `output_type`, CPU offload, IP adapters) is the parent's code.

Optional `preserve_blend=True` (off by default, not in the paper) additionally replaces
the latents outside M after every step by the original image's latents noised to the
next timestep with the same initial noise, as diffusers' inpainting pipeline does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from diffusers import StableDiffusionInstructPix2PixPipeline
from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback

from bpm_edit.errors import InputError
from pipelines.masks import (
    MaskError,
    MaskInput,
    as_mask_batch,
    broadcast_to_batch,
    check_mask_options,
    to_latent_mask,
)

#: Tensors the preserve-blend step needs from the parent's `callback_on_step_end`.
_BLEND_TENSORS = ("latents", "image_latents")


@dataclass
class _MaskedCall:
    """State of one masked call: the masks and their latent-resolution versions."""

    samples: list[torch.Tensor]
    dilation: int
    feather: int
    floor: float
    initial_noise: torch.Tensor | None = None
    _latent: dict[tuple, torch.Tensor] = field(default_factory=dict)

    def latent_mask(self, size: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
        """`(B, 1, h, w)` mask on `like`'s device and dtype, computed once per size."""
        key = (tuple(size), like.device, like.dtype)
        if key not in self._latent:
            mask = to_latent_mask(
                self.samples,
                size,
                dilation=self.dilation,
                feather=self.feather,
                floor=self.floor,
            )
            self._latent[key] = mask.to(device=like.device, dtype=like.dtype)
        return self._latent[key]


class MaskGuidedInstructPix2PixPipeline(StableDiffusionInstructPix2PixPipeline):
    r"""`StableDiffusionInstructPix2PixPipeline` whose text guidance acts only inside a mask.

    Call it like the parent, plus:

    - `mask`: where the instruction may act (1 = full text guidance, 0 = none). A PIL
      image, numpy array or torch tensor, any size (it covers the whole image frame),
      one for all samples, one per prompt (repeated for its `num_images_per_prompt`
      samples, in diffusers' sample order `[p0, p0, p1, p1, ...]`), or one per generated
      sample; see `pipelines.masks` for the accepted forms and the latent-space
      downsampling (max pooling). `None` (default) runs the parent unchanged.
    - `mask_dilation`, `mask_feather`: grow / soften the mask, in latent pixels.
    - `mask_floor`: fraction of text guidance kept outside the mask (0 = paper).
    - `preserve_blend`: also paste the noised original latents outside the mask after
      every step (stricter preservation; off by default).

    A mask needs classifier-free guidance (`guidance_scale > 1` and
    `image_guidance_scale >= 1`), because without it there is no text term to mask.
    """

    _masked_call: _MaskedCall | None = None

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        image: Any = None,
        num_inference_steps: int = 100,
        guidance_scale: float = 7.5,
        image_guidance_scale: float = 1.5,
        negative_prompt: str | list[str] | None = None,
        num_images_per_prompt: int | None = 1,
        eta: float = 0.0,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        ip_adapter_image: Any = None,
        ip_adapter_image_embeds: list[torch.Tensor] | None = None,
        output_type: str | None = "pil",
        return_dict: bool = True,
        callback_on_step_end: Callable | PipelineCallback | MultiPipelineCallbacks | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
        cross_attention_kwargs: dict[str, Any] | None = None,
        mask: MaskInput | None = None,
        mask_dilation: int = 0,
        mask_feather: int = 0,
        mask_floor: float = 0.0,
        preserve_blend: bool = False,
        **kwargs,
    ):
        """Run the parent pipeline with the text guidance masked by `mask` (Eq. 4)."""
        if callback_on_step_end_tensor_inputs is None:
            callback_on_step_end_tensor_inputs = ["latents"]
        parent_kwargs = dict(
            prompt=prompt,
            image=image,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            image_guidance_scale=image_guidance_scale,
            negative_prompt=negative_prompt,
            num_images_per_prompt=num_images_per_prompt,
            eta=eta,
            generator=generator,
            latents=latents,
            prompt_embeds=prompt_embeds,
            negative_prompt_embeds=negative_prompt_embeds,
            ip_adapter_image=ip_adapter_image,
            ip_adapter_image_embeds=ip_adapter_image_embeds,
            output_type=output_type,
            return_dict=return_dict,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
            cross_attention_kwargs=cross_attention_kwargs,
            **kwargs,
        )
        if mask is None:
            if preserve_blend:
                raise MaskError("preserve_blend=True needs a mask (where the edit may happen)")
            return super().__call__(**parent_kwargs)

        # 1. Validate the mask and its options before any model runs.
        check_mask_options(dilation=mask_dilation, feather=mask_feather, floor=mask_floor)
        if not (guidance_scale > 1.0 and image_guidance_scale >= 1.0):
            raise MaskError(
                "a mask restricts the text guidance term, which only exists with "
                "classifier-free guidance: use guidance_scale > 1 and image_guidance_scale >= 1 "
                f"(got {guidance_scale} and {image_guidance_scale})"
            )
        prompts, per_prompt = _prompt_batch_size(prompt, prompt_embeds), num_images_per_prompt or 1
        batch_size = prompts * per_prompt
        samples = broadcast_to_batch(as_mask_batch(mask), prompts, per_prompt)
        state = _MaskedCall(samples, mask_dilation, mask_feather, float(mask_floor))

        # 2. Mask the text term of every UNet call; 3. optionally blend after each step.
        if preserve_blend:
            if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
                callback_on_step_end_tensor_inputs = list(callback_on_step_end.tensor_inputs)
            parent_kwargs["callback_on_step_end"] = self._blend_then(
                state, callback_on_step_end, callback_on_step_end_tensor_inputs
            )
            parent_kwargs["callback_on_step_end_tensor_inputs"] = list(
                dict.fromkeys([*_BLEND_TENSORS, *callback_on_step_end_tensor_inputs])
            )
        handle = self.unet.register_forward_hook(_text_guidance_masker(state, batch_size))
        self._masked_call = state
        try:
            return super().__call__(**parent_kwargs)
        finally:
            handle.remove()
            self._masked_call = None

    def prepare_latents(self, *args, **kwargs) -> torch.Tensor:
        """Parent's initial latents; during a masked call also keep the unscaled noise."""
        latents = super().prepare_latents(*args, **kwargs)
        if self._masked_call is not None:
            self._masked_call.initial_noise = latents / self.scheduler.init_noise_sigma
        return latents

    def _blend_then(
        self,
        state: _MaskedCall,
        user_callback: Callable | PipelineCallback | MultiPipelineCallbacks | None,
        user_tensor_inputs: list[str],
    ) -> Callable:
        """A step-end callback that blends the latents, then runs the user's callback on
        `user_tensor_inputs` (the parent is asked for all of them plus `_BLEND_TENSORS`)."""

        def on_step_end(pipe, step: int, timestep, tensors: dict[str, Any]) -> dict[str, Any]:
            latents = self._blend_original(
                state, step, tensors["latents"], tensors["image_latents"]
            )
            outputs: dict[str, Any] = {"latents": latents}
            if user_callback is not None:
                visible = {**tensors, "latents": latents}
                user_inputs = {name: visible[name] for name in user_tensor_inputs}
                outputs.update(user_callback(pipe, step, timestep, user_inputs) or {})
            return outputs

        return on_step_end

    def _blend_original(
        self, state: _MaskedCall, step: int, latents: torch.Tensor, image_latents: torch.Tensor
    ) -> torch.Tensor:
        """Latents inside M, the original noised to the next timestep outside (as inpainting).

        IP2P conditions on unscaled VAE latents (`image_latents`, first third when
        guidance is on); the denoised latents live in the scaled space, hence the factor.
        """
        batch = latents.shape[0]
        original = image_latents[:batch] * self.vae.config.scaling_factor
        timesteps = self.scheduler.timesteps
        if step < len(timesteps) - 1:
            noise = state.initial_noise.to(device=original.device, dtype=original.dtype)
            original = self.scheduler.add_noise(original, noise, timesteps[step + 1 : step + 2])
        mask = state.latent_mask(latents.shape[-2:], latents)
        # Broadcasting a (B, 1, h, w) mask can yield a channels-last result; keep the
        # scheduler's layout so the UNet's kernels (and their rounding) do not change.
        return ((1 - mask) * original + mask * latents).contiguous()


def _prompt_batch_size(prompt: str | list[str] | None, prompt_embeds: torch.Tensor | None) -> int:
    if isinstance(prompt, str):
        return 1
    if isinstance(prompt, list):
        return len(prompt)
    if prompt_embeds is not None:
        return prompt_embeds.shape[0]
    raise InputError("give `prompt` or `prompt_embeds`")


def _text_guidance_masker(state: _MaskedCall, batch_size: int) -> Callable:
    """UNet forward hook: text+image prediction := lerp(image-only, text+image, M)."""

    def hook(module, args, output):
        sample = output[0] if isinstance(output, tuple) else output.sample
        if sample.shape[0] != 3 * batch_size:
            raise RuntimeError(
                f"masked guidance expected a UNet batch of 3 x {batch_size} "
                f"[text+image, image, unconditional], got {sample.shape[0]}"
            )
        text, image_only, uncond = sample.chunk(3)
        mask = state.latent_mask(sample.shape[-2:], sample)
        masked = torch.cat([torch.lerp(image_only, text, mask), image_only, uncond])
        if isinstance(output, tuple):
            return (masked, *output[1:])
        output.sample = masked
        return output

    return hook
