"""Where models run: a device string or dtype name in, a checked torch object out.

One home for the checks every entry point needs (the metric, the editing pipelines,
the baselines), so a missing GPU reads the same everywhere: the error names the
device asked for and the fix. torch is imported only when a function is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpm_edit.errors import ConfigError

if TYPE_CHECKING:
    import torch

#: The floating dtypes models run in (the choices of every --dtype flag).
FLOAT_DTYPES = ("float32", "float16", "bfloat16")
#: Accepted dtype names (also with a "torch." prefix) and the torch dtype each means.
DTYPE_NAMES = {
    "float32": "float32", "fp32": "float32",
    "float16": "float16", "fp16": "float16", "half": "float16",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
}


class DeviceError(ConfigError):
    """A device or dtype that cannot be used here; the message says what to use instead."""


def resolve_device(device: str | torch.device) -> torch.device:
    """`torch.device(device)`, or a `DeviceError` when it is malformed or absent here."""
    import torch

    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise DeviceError(
            f"invalid device {device!r}; use cpu, cuda, cuda:N or mps (e.g. --device cpu)"
        ) from err
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {device!r} requested but no CUDA GPU is available here; "
                "use --device cpu"
            )
        if (resolved.index or 0) >= torch.cuda.device_count():
            raise DeviceError(
                f"device {device!r} requested but only {torch.cuda.device_count()} CUDA "
                "device(s) are visible; use --device cuda:0"
            )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(
            f"device {device!r} requested but MPS is not available here; use --device cpu"
        )
    return resolved


def resolve_dtype(
    dtype: torch.dtype | str | None, default: torch.dtype | None = None
) -> torch.dtype:
    """float32, float16 or bfloat16 from a torch dtype or a name in `DTYPE_NAMES`.

    None and "auto" mean `default` (float32 when that is None too).
    """
    import torch

    if dtype is None or dtype == "auto":
        return torch.float32 if default is None else default
    if isinstance(dtype, torch.dtype) and str(dtype).removeprefix("torch.") in FLOAT_DTYPES:
        return dtype
    if isinstance(dtype, str):
        name = DTYPE_NAMES.get(dtype.lower().removeprefix("torch."))
        if name is not None:
            return getattr(torch, name)
    raise DeviceError(
        f"unknown dtype {dtype!r}; use one of {sorted(DTYPE_NAMES)} or auto"
    )
