"""Personalized content on the real model: does each user's email fit them, and do users differ?

Made-up film-club members (`--profiles`, default 60, seeded): two favourite genres each, about a
third lapsed (last seen 45-400 days ago), some buyers, mobile or desktop. Their behaviour goes in
as events through the real event stream, so the features the prompts read are the ones
`FeatureStore` computes, and each member gets the same request through `Personalizer.generate`
(task `email`, "tell them about this week's new films") on the default base model, with the
project's content decoding. Requests are sent concurrently, so the back end micro-batches them.

The baseline, in the same run on the same model: what tailorai sent before per-user cues read
the stored features, one email per segment (`Personalizer.generate(None, ..., segment=...)`,
as pre-generated variants are made); here every member is in no segment, so one email for all.

Figures (rates are shares of members):
- `mentions_favourite_rate`: the email names one of the member's two genres (or a synonym:
  "science fiction" for Sci-Fi); `mentions_top_rate`: their first genre;
  `mentions_other_rate`: it names a genre that is not theirs (the chance of a false fit).
- `welcome_back_rate_lapsed` vs `welcome_back_rate_active`: the email speaks of coming back
  ("welcome back", "missed you", "it's been a while", ...), for lapsed members and others.
- `identical_pair_rate`: of all pairs of members with different profiles, the share whose
  emails are byte-identical; `distinct_emails`.
- `unfilled_placeholder_rate`: emails still holding a bracketed placeholder ("[Film A]").
- `tokens_per_s`, `seconds`, `finish_reasons`, `mean_words`.

    .venv/bin/python bench/personalization_content.py [--quick] [--base stories260k]

The last line printed is one JSON object (see ../shared/BENCH.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (offline settings)

# Each genre with the words that count as naming it.
GENRES: dict[str, tuple[str, ...]] = {
    "Sci-Fi": ("sci-fi", "science fiction", "scifi", "sci fi"),
    "Romance": ("romance", "romantic", "love stor"),
    "Comedy": ("comedy", "comedies", "comedic", "funny"),
    "Horror": ("horror", "scary", "spooky"),
    "Documentary": ("documentary", "documentaries"),
    "Animation": ("animation", "animated"),
    "Western": ("western",),
    "Musical": ("musical",),
    "Thriller": ("thriller", "thrilling", "suspense"),
    "Fantasy": ("fantasy", "magical"),
    "War": ("war film", "war movie", "war drama", "war stor"),
    "Crime": ("crime", "detective", "heist"),
}
WELCOME_BACK = re.compile(
    r"welcome (you |them )?back|missed you|miss you|been a while|been (a long|too long|some) time|"
    r"come back|coming back|return to|haven't seen you|see you again|visit us again|while since|"
    r"long time",
    re.IGNORECASE,
)
PLACEHOLDER = re.compile(r"\[[^\]\n]{1,40}\]")
REQUEST = {"goal": "tell them about this week's new films", "brand": "Cinema Club"}


def _profiles(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    names = list(GENRES)
    profiles = []
    for i in range(count):
        favourite = rng.sample(names, 2)
        lapsed = rng.random() < 0.35
        profiles.append(
            {
                "user": f"member-{i:03d}",
                "favourite": favourite,
                "lapsed": lapsed,
                "last_seen_days": rng.uniform(45, 400) if lapsed else rng.uniform(0.1, 6),
                "purchases": rng.choice([0, 0, 1, 3]),
                "device": rng.choice(["mobile", "desktop"]),
                "events": rng.randint(6, 14),
            }
        )
    return profiles


def _events(profile: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Film views, most in the favourite genres, ending `last_seen_days` ago; purchases."""
    rng = random.Random(profile["user"])
    last = now - timedelta(days=profile["last_seen_days"])
    first, second = profile["favourite"]
    raws = []
    for k in range(profile["events"]):
        genres = [first] if k % 3 != 2 else [second]
        if k % 4 == 3:
            genres = [first, second]
        raws.append(
            {
                "type": "track",
                "event": "Film Viewed",
                "userId": profile["user"],
                "messageId": f"{profile['user']}-{k}",
                "timestamp": (last - timedelta(hours=12 * (profile["events"] - k))).isoformat(),
                "properties": {"categories": genres, "title": f"Film {rng.randint(1, 999)}"},
                "context": {"device": {"type": profile["device"]}},
            }
        )
    for k in range(profile["purchases"]):
        raws.append(
            {
                "type": "track",
                "event": "Order Completed",
                "userId": profile["user"],
                "messageId": f"{profile['user']}-order-{k}",
                "timestamp": (last - timedelta(days=1 + k)).isoformat(),
                "properties": {"revenue": 12.0, "categories": [first]},
                "context": {"device": {"type": profile["device"]}},
            }
        )
    return raws


def _names(text: str, genre: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in GENRES[genre])


def _score(profiles: list[dict[str, Any]], texts: list[str]) -> dict[str, Any]:
    n = len(profiles)
    fav = sum(
        any(_names(t, g) for g in p["favourite"]) for p, t in zip(profiles, texts, strict=True)
    )
    top = sum(_names(t, p["favourite"][0]) for p, t in zip(profiles, texts, strict=True))
    other = sum(
        any(_names(t, g) for g in GENRES if g not in p["favourite"])
        for p, t in zip(profiles, texts, strict=True)
    )
    lapsed = [t for p, t in zip(profiles, texts, strict=True) if p["lapsed"]]
    active = [t for p, t in zip(profiles, texts, strict=True) if not p["lapsed"]]
    pairs = [
        (a, b)
        for (pa, a), (pb, b) in itertools.combinations(zip(profiles, texts, strict=True), 2)
        if (pa["favourite"], pa["lapsed"]) != (pb["favourite"], pb["lapsed"])
    ]
    return {
        "mentions_favourite_rate": round(fav / n, 3),
        "mentions_top_rate": round(top / n, 3),
        "mentions_other_rate": round(other / n, 3),
        "welcome_back_rate_lapsed": round(
            sum(bool(WELCOME_BACK.search(t)) for t in lapsed) / max(1, len(lapsed)), 3
        ),
        "welcome_back_rate_active": round(
            sum(bool(WELCOME_BACK.search(t)) for t in active) / max(1, len(active)), 3
        ),
        "identical_pair_rate": round(sum(a == b for a, b in pairs) / max(1, len(pairs)), 4),
        "distinct_emails": len(set(texts)),
        "unfilled_placeholder_rate": round(sum(bool(PLACEHOLDER.search(t)) for t in texts) / n, 3),
        "mean_words": round(sum(len(t.split()) for t in texts) / n, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 members, shorter emails")
    parser.add_argument("--profiles", type=int, default=None, help="members (default 60)")
    parser.add_argument("--base", default=None, help="base model (default: the settings')")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default 160 (60 quick)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=3, help="emails to print in full")
    args = parser.parse_args()
    count = args.profiles or (12 if args.quick else 60)
    tokens = args.max_new_tokens or (60 if args.quick else 160)

    home = Path(tempfile.mkdtemp(prefix="bench-content-"))
    os.environ["TAILOR_HOME"] = os.environ.get("TAILOR_BENCH_HOME", str(home / "home"))
    from tailorai.events import SqlEventStream, parse_event
    from tailorai.generation import LocalBackend, Personalizer
    from tailorai.models import use_bf16
    from tailorai.projects import ensure_project
    from tailorai.segments import FeatureStore
    from tailorai.settings import get_settings
    from tailorai.store import Store

    base = args.base or get_settings().base_model
    store = Store(f"sqlite:///{home / 'bench.db'}")
    ensure_project(store, "bench")
    now = datetime.now(UTC)
    profiles = _profiles(count, args.seed)
    stream, features = SqlEventStream(store), FeatureStore(store)
    for profile in profiles:
        events = [parse_event(raw, now, max_age=None) for raw in _events(profile, now)]
        features.update("bench", stream.append("bench", events).new)

    backend = LocalBackend(base, max_batch=16)
    personalizer = Personalizer(
        store=store, backend=backend, project="bench", max_new_tokens=tokens
    )
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:  # they share micro-batches
        made = list(
            pool.map(lambda p: personalizer.generate(p["user"], "email", REQUEST), profiles)
        )
    seconds = time.perf_counter() - started
    texts = [g.output for g in made]
    baseline = personalizer.generate(None, "email", REQUEST, segment=None)
    result = {
        "bench": "personalization_content",
        "base_model": base,
        "precision": "bf16" if use_bf16(backend.model) else "fp32",
        "profiles": count,
        "max_new_tokens": tokens,
        "tailor": _score(profiles, texts),
        "baseline_segment_email": _score(profiles, [baseline.output] * count),
        "finish_reasons": {
            reason: sum(g.finish_reason == reason for g in made) for reason in ("stop", "length")
        },
        "tokens_per_s": round(sum(g.completion_tokens for g in made) / seconds, 1),
        "seconds": round(seconds, 1),
    }
    for profile, text in list(zip(profiles, texts, strict=True))[: args.show]:
        state = "lapsed" if profile["lapsed"] else "active"
        print(f"--- {profile['user']} ({', '.join(profile['favourite'])}; {state})\n{text}\n")
    print(f"--- baseline, one email for everyone\n{baseline.output}\n")
    backend.close()
    store.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
