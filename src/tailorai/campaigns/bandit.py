"""A contextual bandit that ranks an email's blocks: linear Thompson sampling or epsilon-greedy.

One Bayesian linear model predicts the click probability of block (arm) `a` for a user from
`z = [one-hot(a), x]`, where `x` is the context of that (user, block) pair: each block has its
own intercept and all blocks share what the context means (a user's affinity with a block's
topic predicts clicks on any block), so a new block learns from the others' data. With
`A = λI + Σ z zᵀ` and `b = Σ r z` over every showing (`r` = 1 when clicked), the posterior mean
is `θ̂ = A⁻¹b` and its covariance `v²A⁻¹` (Agrawal and Goyal, "Thompson Sampling for
Contextual Bandits with Linear Payoffs", 2013).

- thompson: draw `θ ~ N(θ̂, v²A⁻¹)`, rank the blocks by `θᵀz`;
- epsilon_greedy: rank by `θ̂ᵀz`, except with probability ε a uniformly random order;
- fixed: the campaign's declared order (the baseline).

Every decision logs its propensity: the probability that the policy puts that block in the
slot it got, given the context (exact for epsilon-greedy and fixed; for Thompson sampling
estimated from `draws` extra rankings). Off-policy evaluation of a new policy on the logs
weighs each click by `1 / propensity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Bandit", "Ranking"]


@dataclass(frozen=True, slots=True)
class Ranking:
    arms: list[str]  # best first: the email's blocks, in order
    propensities: list[float]  # P(the policy puts arms[i] in slot i | context)


class Bandit:
    def __init__(
        self,
        arms: Sequence[str],
        dim: int,
        *,
        policy: str = "thompson",
        epsilon: float = 0.1,
        ridge: float = 1.0,
        scale: float = 0.25,
        draws: int = 200,
        prior: Sequence[float] | None = None,
        prior_weight: float = 4.0,
    ) -> None:
        """`dim` context features per (user, arm); the model adds one indicator per arm.

        `prior` is each arm's expected click rate before any data (default: all equal), held
        with the confidence of `prior_weight` showings."""
        self.arms = list(arms)
        self.dim = dim
        self.policy = policy
        self.epsilon = epsilon
        self.scale = scale
        self.draws = draws
        size = len(self.arms) + dim
        self.A = np.eye(size) * ridge
        self.b = np.zeros(size)
        if prior is not None:
            k = len(self.arms)
            self.A[range(k), range(k)] = prior_weight
            self.b[:k] = prior_weight * np.asarray(prior, dtype=float)
        self.shown = np.zeros(len(self.arms), dtype=np.int64)
        self.clicks = np.zeros(len(self.arms), dtype=np.int64)
        self._cache: tuple[np.ndarray, np.ndarray] | None = None

    def _vector(self, arm: int, x: Sequence[float]) -> np.ndarray:
        v = np.zeros(len(self.arms) + self.dim)
        v[arm] = 1.0
        v[len(self.arms) :] = x
        return v

    # -- learning ------------------------------------------------------------------------------

    def update(self, arm: str, x: Sequence[float], reward: float) -> None:
        i = self.arms.index(arm)
        v = self._vector(i, x)
        self.A += np.outer(v, v)
        self.b += reward * v
        self.shown[i] += 1
        self.clicks[i] += int(reward > 0)
        self._cache = None

    def _posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """The mean θ̂ and the Cholesky factor of the covariance v²A⁻¹."""
        if self._cache is None:
            inverse = np.linalg.inv(self.A)
            inverse = (inverse + inverse.T) / 2
            self._cache = (inverse @ self.b, np.linalg.cholesky(self.scale**2 * inverse))
        return self._cache

    def expected(self, arm: str, x: Sequence[float]) -> float:
        """The posterior mean click probability of `arm` in context `x`."""
        mean, _ = self._posterior()
        return float(mean @ self._vector(self.arms.index(arm), x))

    # -- deciding ------------------------------------------------------------------------------

    def rank(
        self,
        contexts: dict[str, Sequence[float]],
        slots: int,
        rng: np.random.Generator,
        order: Sequence[str] | None = None,
    ) -> Ranking:
        """The top `slots` of the eligible arms (the keys of `contexts`) for one user.

        `order` is the declared order a fixed policy follows (default: `arms`)."""
        eligible = [a for a in (order or self.arms) if a in contexts]
        if not eligible:
            return Ranking([], [])
        slots = min(slots, len(eligible))
        if self.policy == "fixed":
            return Ranking(eligible[:slots], [1.0] * slots)
        X = np.stack([self._vector(self.arms.index(a), contexts[a]) for a in eligible])
        mean, chol = self._posterior()
        k = len(eligible)
        if self.policy == "epsilon_greedy":
            greedy = np.argsort(-(X @ mean), kind="stable")
            chosen = rng.permutation(k) if rng.random() < self.epsilon else greedy
            chosen = chosen[:slots]
            propensities = [
                (1 - self.epsilon) * float(greedy[slot] == arm) + self.epsilon / k
                for slot, arm in enumerate(chosen)
            ]
            return Ranking([eligible[i] for i in chosen], propensities)
        # Thompson: one draw decides; `draws` more estimate how often each arm lands where it did.
        theta = mean + rng.standard_normal((self.draws + 1, len(mean))) @ chol.T
        orders = np.argsort(-(theta @ X.T), axis=1, kind="stable")
        chosen = orders[0, :slots]
        rest = orders[1:, :slots]
        propensities = [
            float(max((rest[:, slot] == arm).mean(), 1.0 / self.draws))
            for slot, arm in enumerate(chosen)
        ]
        return Ranking([eligible[i] for i in chosen], propensities)

    # -- saving --------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "arms": self.arms,
            "dim": self.dim,
            "A": self.A.tolist(),
            "b": self.b.tolist(),
            "shown": self.shown.tolist(),
            "clicks": self.clicks.tolist(),
        }

    def load(self, state: dict[str, Any]) -> bool:
        """Take a saved state in; False (and a fresh start) when the campaign's blocks or the
        context changed since it was saved."""
        if state.get("arms") != self.arms or state.get("dim") != self.dim:
            return False
        self.A, self.b = np.asarray(state["A"], dtype=float), np.asarray(state["b"], dtype=float)
        self.shown = np.asarray(state["shown"], dtype=np.int64)
        self.clicks = np.asarray(state["clicks"], dtype=np.int64)
        self._cache = None
        return True
