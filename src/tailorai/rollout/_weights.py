"""The one check every arm-weight mapping goes through (assignment and the SRM test share it)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real

from tailorai.errors import ConfigError

__all__ = ["normalize_weights"]


def normalize_weights(arms: Mapping[str, float]) -> dict[str, float]:
    """Return `arms` with weights summing to 1, sorted by arm name; raise ConfigError if invalid.

    >>> normalize_weights({"treatment": 1, "control": 3})
    {'control': 0.75, 'treatment': 0.25}
    """
    if not isinstance(arms, Mapping):
        raise ConfigError(
            f"Arms must be a mapping of arm name to weight, e.g. {{'control': 1, 'treatment': 1}}."
            f" Got {type(arms).__name__} instead."
        )
    if len(arms) < 2:
        raise ConfigError(
            f"An experiment needs at least two arms, e.g. {{'control': 1, 'treatment': 1}}."
            f" Got {len(arms)}: {sorted(map(str, arms))}."
        )
    for name, weight in arms.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"Arm names must be non-empty strings. Got {name!r} instead.")
        if (
            isinstance(weight, bool)
            or not isinstance(weight, Real)
            or not math.isfinite(weight)
            or weight <= 0
        ):
            raise ConfigError(
                f"The weight of arm {name!r} must be a positive finite number."
                f" Got {weight!r} instead."
            )
    total = math.fsum(float(weight) for weight in arms.values())
    return {name: float(arms[name]) / total for name in sorted(arms)}
