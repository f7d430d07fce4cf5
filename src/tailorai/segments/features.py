"""Features per user, updated in constant work as each event arrives.

`UserFeatures` is a small state folded over a user's events; `values(now)` turns it into the
features segmentation and prompts use. Decayed quantities use a half-life of `HALF_LIFE_DAYS`:
an event counts `exp(-λ·age)` with `λ = ln 2 / half-life`, kept as a sum relative to the newest
event seen, so events arriving out of order count the same as in order.

What events mean (Segment's e-commerce names, and what `tracker.js` sends):
- a session starts after `SESSION_GAP` of silence (or a new `context.session_id`);
- dwell: `properties.dwell_ms` (tracker's "Page Left"); scroll: `properties.scroll_depth` (0-100);
- impressions: "Content Shown"; clicks on content: "Content Clicked" (both carry the content's
  or generation's id); forms: "Form Submitted"; purchases: "Order Completed" with
  `properties.revenue` (or `value`, or `price`);
- categories: `properties.category`, or `properties.categories` (a list sharing the event's
  weight, such as a movie's genres); device: `context.device.type`, else guessed from the user
  agent (mobile, tablet, desktop).

The engagement score (0-100) weighs five signals, each capped at 1:
    100 · (0.30·min(frequency/5, 1) + 0.20·min(mean dwell/120 s, 1) + 0.15·mean scroll/100
           + 0.15·min(click-through/0.2, 1) + 0.20·min(purchases/3, 1)) · exp(-recency/30 days)
so a user seen daily who reads, scrolls, clicks and buys scores near 100, and anyone fades
over a month of absence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tailorai.records import Event

__all__ = [
    "HALF_LIFE_DAYS",
    "NUMERIC_FEATURES",
    "SESSION_GAP",
    "UserFeatures",
    "compute_features",
    "engagement",
]

HALF_LIFE_DAYS = 7.0
SESSION_GAP = 30 * 60.0  # seconds
TOP_CATEGORIES = 5
_KEPT_CATEGORIES = 32  # the state keeps this many, so its size stays constant
_DECAY = math.log(2) / (HALF_LIFE_DAYS * 86_400.0)  # per second
# The numbers `UserFeatures.values()` gives, what rules and models may test.
NUMERIC_FEATURES = (
    "recency_days",
    "frequency_per_day",
    "events",
    "sessions",
    "mean_dwell_s",
    "mean_scroll_depth",
    "click_through",
    "form_submissions",
    "purchases",
    "revenue",
    "engagement",
)
_TINY = 1e-200  # category weights never decay below this (shares survive any gap)
_LOG_TINY = math.log(_TINY)
IMPRESSION = "Content Shown"
CONTENT_CLICK = "Content Clicked"
FORM = "Form Submitted"
PURCHASE = "Order Completed"


def _device(event: Event) -> str:
    device = event.context.get("device")
    if isinstance(device, dict) and isinstance(device.get("type"), str):
        return device["type"].lower()
    agent = str(event.context.get("user_agent") or event.context.get("userAgent") or "").lower()
    if not agent:
        return "unknown"
    if "ipad" in agent or "tablet" in agent:
        return "tablet"
    if "mobi" in agent or "android" in agent or "iphone" in agent:
        return "mobile"
    return "desktop"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


@dataclass(slots=True)
class UserFeatures:
    """The running state of one user's features (JSON-serializable via `as_dict`)."""

    first_seen: float = 0.0  # epoch seconds
    last_seen: float = 0.0
    events: int = 0
    decayed: float = 0.0  # Σ exp(-λ·(last_seen - t))
    sessions: int = 0
    session_id: str | None = None
    dwell_sum: float = 0.0
    dwell_n: int = 0
    scroll_sum: float = 0.0
    scroll_n: int = 0
    impressions: int = 0
    content_clicks: int = 0
    forms: int = 0
    purchases: int = 0
    revenue: float = 0.0
    categories: dict[str, float] = field(default_factory=dict)  # decayed like `decayed`
    devices: dict[str, int] = field(default_factory=dict)
    timezone: str | None = None  # IANA name, from the tracker's context or identify traits

    def update(self, event: Event) -> None:
        """Fold one event in; constant work (the category map is capped)."""
        t = event.timestamp.timestamp()
        if self.events == 0:
            self.first_seen = self.last_seen = t
        weight = 1.0
        if t >= self.last_seen:
            gap = _DECAY * (t - self.last_seen)
            shrink = math.exp(-gap)
            self.decayed *= shrink
            if self.categories:
                # After decades of silence the weights would underflow to zero and the user's
                # old tastes vanish; their shares are still all we know, so they stay tiny.
                top = max(self.categories.values())
                if top > 0 and math.log(top) - gap < _LOG_TINY:
                    shrink = _TINY / top
                for name in self.categories:
                    self.categories[name] *= shrink
            new_session = self.events == 0 or t - self.last_seen > SESSION_GAP
            self.last_seen = t
        else:  # arrived late: counts as old as it is
            weight = math.exp(-_DECAY * (self.last_seen - t))
            new_session = False
        self.first_seen = min(self.first_seen, t)
        session_id = event.context.get("session_id")
        if isinstance(session_id, str) and session_id != self.session_id:
            new_session = new_session or self.session_id is not None or self.events == 0
            self.session_id = session_id
        self.sessions += int(new_session)
        self.events += 1
        self.decayed += weight
        self._count(event, weight)

    def _count(self, event: Event, weight: float) -> None:
        props = event.properties
        if (dwell := _number(props.get("dwell_ms"))) is not None and dwell >= 0:
            self.dwell_sum += dwell / 1000.0
            self.dwell_n += 1
        if (scroll := _number(props.get("scroll_depth"))) is not None:
            self.scroll_sum += min(max(scroll, 0.0), 100.0)
            self.scroll_n += 1
        name = event.event
        if name == IMPRESSION:
            self.impressions += 1
        elif name == CONTENT_CLICK:
            self.content_clicks += 1
        elif name == FORM:
            self.forms += 1
        elif name == PURCHASE:
            self.purchases += 1
            for key in ("revenue", "value", "price"):
                if (value := _number(props.get(key))) is not None:
                    self.revenue += value
                    break
        category = props.get("category")
        if isinstance(category, str) and category:
            self._prefer(category, weight)
        categories = props.get("categories")
        if isinstance(categories, list) and categories:  # a movie's genres share one event
            named = [c for c in categories if isinstance(c, str) and c]
            for name in named:
                self._prefer(name, weight / len(named))
        device = _device(event)
        self.devices[device] = self.devices.get(device, 0) + 1
        zone = event.context.get("timezone") or (
            props.get("timezone") if event.type == "identify" else None
        )
        if isinstance(zone, str) and 0 < len(zone) <= 64 and weight == 1.0:
            self.timezone = zone  # the newest event's wins

    def merge(self, other: UserFeatures) -> None:
        """Take in another state of the same person (an anonymous visitor who identified)."""
        if other.events == 0:
            return
        if self.events == 0:
            for name in self.__slots__:
                setattr(self, name, getattr(other, name))
            self.categories, self.devices = dict(other.categories), dict(other.devices)
            return
        newest = max(self.last_seen, other.last_seen)
        mine = math.exp(-_DECAY * (newest - self.last_seen))
        theirs = math.exp(-_DECAY * (newest - other.last_seen))
        self.decayed = self.decayed * mine + other.decayed * theirs
        names = set(self.categories) | set(other.categories)
        self.categories = {
            n: self.categories.get(n, 0.0) * mine + other.categories.get(n, 0.0) * theirs
            for n in names
        }
        while len(self.categories) > _KEPT_CATEGORIES:
            del self.categories[min(self.categories, key=self.categories.__getitem__)]
        for name, count in other.devices.items():
            self.devices[name] = self.devices.get(name, 0) + count
        for name in (
            "events",
            "sessions",
            "dwell_sum",
            "dwell_n",
            "scroll_sum",
            "scroll_n",
            "impressions",
            "content_clicks",
            "forms",
            "purchases",
            "revenue",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.last_seen > self.last_seen:
            self.session_id = other.session_id
            self.timezone = other.timezone or self.timezone
        else:
            self.timezone = self.timezone or other.timezone
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = newest

    def _prefer(self, category: str, weight: float) -> None:
        self.categories[category] = self.categories.get(category, 0.0) + weight
        if len(self.categories) > _KEPT_CATEGORIES:
            del self.categories[min(self.categories, key=self.categories.__getitem__)]

    def values(self, now: datetime | float) -> dict[str, Any]:
        """The features as of `now`: what segments, prompts and `GET /v1/users` show."""
        now_s = now.timestamp() if isinstance(now, datetime) else float(now)
        age = max(0.0, now_s - self.last_seen)
        fade = math.exp(-_DECAY * age)
        per_day = _DECAY * 86_400.0
        total_devices = sum(self.devices.values()) or 1
        ranked = sorted(self.categories.items(), key=lambda kv: (-kv[1], kv[0]))
        features = {
            "recency_days": age / 86_400.0,
            "frequency_per_day": self.decayed * fade * per_day,
            "events": self.events,
            "sessions": self.sessions,
            "mean_dwell_s": self.dwell_sum / self.dwell_n if self.dwell_n else 0.0,
            "mean_scroll_depth": self.scroll_sum / self.scroll_n if self.scroll_n else 0.0,
            "click_through": self.content_clicks / self.impressions if self.impressions else 0.0,
            "form_submissions": self.forms,
            "purchases": self.purchases,
            "revenue": self.revenue,
            "top_categories": [name for name, _ in ranked[:TOP_CATEGORIES]],
            "category_weights": {name: w * fade * per_day for name, w in ranked[:TOP_CATEGORIES]},
            "device_mix": {d: n / total_devices for d, n in sorted(self.devices.items())},
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "timezone": self.timezone,
        }
        features["engagement"] = engagement(features)
        return features

    def as_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: its deep copy was most of the cost of a feature update.
        state = {name: getattr(self, name) for name in self.__slots__}
        state["categories"] = dict(self.categories)
        state["devices"] = dict(self.devices)
        return state

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> UserFeatures:
        return cls(**state)


def engagement(f: dict[str, Any]) -> float:
    """The documented 0-100 engagement score (see the module docstring)."""
    score = (
        0.30 * min(f["frequency_per_day"] / 5.0, 1.0)
        + 0.20 * min(f["mean_dwell_s"] / 120.0, 1.0)
        + 0.15 * f["mean_scroll_depth"] / 100.0
        + 0.15 * min(f["click_through"] / 0.2, 1.0)
        + 0.20 * min(f["purchases"] / 3.0, 1.0)
    )
    return 100.0 * score * math.exp(-f["recency_days"] / 30.0)


def compute_features(events: Iterable[Event]) -> UserFeatures:
    """The batch way: one user's stored events, folded in the order they were stored."""
    state = UserFeatures()
    for event in events:
        state.update(event)
    return state
