from __future__ import annotations

import pytest

from tailorai.errors import ConfigError
from tailorai.models import bf16_supported, use_bf16
from tailorai.models.precision import MIN_BF16_PARAMETERS


def test_auto_picks_bf16_only_for_models_big_enough_to_gain():
    big, tiny = MIN_BF16_PARAMETERS, 292_800
    assert use_bf16(big, "auto") is bf16_supported()
    assert use_bf16(tiny, "auto") is False  # overhead-bound: bf16 only changes its numbers


def test_fp32_and_bf16_force_a_precision_where_the_hardware_allows():
    assert use_bf16(10**9, "fp32") is False
    assert use_bf16(1, "bf16") is bf16_supported()


def test_the_settings_precision_is_the_default(monkeypatch):
    monkeypatch.setenv("TAILOR_PRECISION", "fp32")
    assert use_bf16(10**9) is False


def test_an_unknown_precision_is_one_clear_error():
    with pytest.raises(ConfigError, match="precision must be one of auto, bf16, fp32; got 'fp16'"):
        use_bf16(10**9, "fp16")
