"""Sticky assignment of units (users) to experiment arms, stable across calls, processes and hosts.

Two independent hashes decide a unit's fate, each SHA-256 over the UTF-8 bytes of
`salt + "\\0" + unit`, its first 8 bytes read as a big-endian integer, modulo `BUCKETS` (10,000):

- the **traffic gate**: `bucket(salt, unit) < round(traffic · BUCKETS)` puts the unit in the
  experiment; others get `None` (they see the current default and are not counted);
- the **arm split**: `bucket(salt + ARM_SALT_SUFFIX, unit)` falls in one of the ranges that the
  arms' normalized weights cut `[0, BUCKETS)` into, arms taken in name order.

Because the gate and the split use different hashes, ramping `traffic` up (5% → 25% → 50% →
100%) only lets new units in: a unit already in keeps its bucket below the raised threshold and
its arm, which never depended on `traffic`. (One hash for both, with `traffic` shrinking the
arm ranges, would move users between arms at every ramp step.) The split is also independent
of whether a unit passed the gate, so the arms of a 5% ramp are a fair sample of the arms at
100%. Changing the weights or the set of arms, unlike `traffic`, re-splits units: keep them
fixed for an experiment's life and start a new salt to change them. A fresh salt per experiment
makes its split independent of every other experiment's.

The unit is whatever id the caller passes; nothing here knows about identities. Recommended use
with anonymous visitors: pass the anonymous id until the visitor is identified and the user id
from then on, which keeps a visitor's arm for the whole anonymous session and makes it follow
the user across devices afterwards. The arm may change at identify, since the two ids hash
differently, unless the caller stores the first assignment and reuses it for the user id
(storing assignments is not part of this module); analyses should then count such a user once,
in the arm first shown.

>>> arms = {"control": 1, "treatment": 1}
>>> assign("exp-42", "user-2", arms, traffic=0.25), assign("exp-42", "user-1", arms, traffic=0.25)
('treatment', None)
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from numbers import Real

from tailorai.errors import ConfigError
from tailorai.rollout._weights import normalize_weights

__all__ = ["ARM_SALT_SUFFIX", "BUCKETS", "assign", "bucket"]

BUCKETS = 10_000
ARM_SALT_SUFFIX = ":arm"


def bucket(salt: str, unit: str) -> int:
    """The unit's bucket in `[0, BUCKETS)` for this salt: a SHA-256 hash, the same everywhere."""
    if not isinstance(salt, str) or not salt or "\0" in salt:
        raise ConfigError(
            "The experiment salt must be a non-empty string without NUL characters,"
            f" e.g. the experiment's name. Got {salt!r} instead."
        )
    if not isinstance(unit, str) or not unit:
        raise ValueError(
            f"The unit to assign must be a non-empty string id (a user or anonymous id)."
            f" Got {unit!r} instead."
        )
    # The NUL separator cannot occur in the salt, so distinct (salt, unit) pairs hash distinct
    # byte strings; 2**64 modulo 10,000 skews buckets by less than 1e-15.
    digest = hashlib.sha256(salt.encode("utf-8") + b"\0" + unit.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign(salt: str, unit: str, arms: Mapping[str, float], traffic: float = 1.0) -> str | None:
    """The arm of `unit`, or None when it falls outside the `traffic` share during a ramp.

    `arms` maps each arm name to a positive weight (`{"control": 1, "treatment": 1}` splits
    50/50); `traffic` in [0, 1] is the share of all units in the experiment.
    """
    weights = normalize_weights(arms)
    if (
        isinstance(traffic, bool)
        or not isinstance(traffic, Real)
        or not math.isfinite(traffic)
        or not 0 <= traffic <= 1
    ):
        raise ConfigError(
            f"The 'traffic' share must be a number in [0, 1] (0.05 for a 5% ramp step)."
            f" Got {traffic!r} instead."
        )
    if bucket(salt, unit) >= round(traffic * BUCKETS):
        return None
    position = bucket(salt + ARM_SALT_SUFFIX, unit)
    edge = 0.0
    for name, share in weights.items():
        edge += share * BUCKETS
        if position < edge:
            return name
    return name  # only reached when float rounding leaves the last edge a hair below BUCKETS
