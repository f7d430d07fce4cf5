"""Which precision a model runs in: bfloat16 where the hardware has it and it pays, else fp32.

CPUs with AVX512-BF16 or AMX-BF16 (and CUDA GPUs of compute capability 8 or more) multiply
bfloat16 matrices several times faster than float32 ones: on this project's 2-core machines a
576-2048 square matmul ran 2-3x (AVX512-BF16) to 3.5-6x (AMX) faster. A model of a few hundred
thousand parameters gains nothing from it, since its steps are bound by Python and kernel-launch
overhead, not by matmuls; and bfloat16's 8-bit mantissa changes greedy outputs a little. So
``precision: auto`` (the default; ``TAILOR_PRECISION``) picks bfloat16 only where the hardware
supports it and the model has at least `MIN_BF16_PARAMETERS`; ``bf16`` and ``fp32`` force one.

Inference then holds the weights in bfloat16; training keeps float32 weights (the optimizer's
master copy) and runs the forward and backward under ``torch.autocast`` in bfloat16.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

from tailorai.errors import ConfigError

__all__ = ["MIN_BF16_PARAMETERS", "Precision", "bf16_supported", "use_bf16"]

Precision = Literal["auto", "bf16", "fp32"]
MIN_BF16_PARAMETERS = 20_000_000
_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # x86; aarch64 lists "bf16" among its features


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return frozenset(flags)


@functools.cache
def bf16_supported() -> bool:
    """Whether this machine's accelerator (a CUDA GPU, else the CPU) has fast bfloat16."""
    import torch

    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    flags = _cpu_flags()
    return any(flag in flags for flag in _CPU_FLAGS) or "bf16" in flags


def _setting(precision: str | None) -> str:
    if precision is None:
        from tailorai.settings import get_settings

        precision = get_settings().precision
    value = str(precision).lower()
    if value not in ("auto", "bf16", "fp32"):
        raise ConfigError(
            f"precision must be one of auto, bf16, fp32; got {precision!r}. Set TAILOR_PRECISION "
            "or `precision:` in tailor.yaml."
        )
    return value


def use_bf16(model_or_parameters: Any, precision: str | None = None) -> bool:
    """Whether a model (or a parameter count) should run in bfloat16 under `precision`
    (default: the settings'). ``bf16`` on hardware without it falls back to fp32."""
    setting = _setting(precision)
    if setting == "fp32" or not bf16_supported():
        return False
    if setting == "bf16":
        return True
    if isinstance(model_or_parameters, int):
        parameters = model_or_parameters
    else:
        parameters = sum(p.numel() for p in model_or_parameters.parameters())
    return parameters >= MIN_BF16_PARAMETERS
