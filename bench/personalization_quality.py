"""Personalization quality: held-out perplexity of every rung of the ladder, per user.

Data: a Stack Exchange dump (`Posts.xml`, `Comments.xml`, optionally `Users.xml`). Every author
with at least 20 posts and comments is a user. An example's prompt is the question title (for a
question or an answer: the title of the question answered) or "Write a comment on: <title>" for
a comment; its reply is the user's own text, HTML turned into plain text and cut at a word
boundary to 240 characters (the shipped model's context is 512 tokens of ~1.7 characters).
Segments are reputation bands from `Users.xml` (low < 5,000 <= mid < 20,000 <= high).

Each user's newest 200 texts are kept (`--max-texts`; the most active author has 588) and split
by time: the newest 20% are the test set, the 10% before them the dev set (early stopping, and
the ladder's measured choice), the rest the training set. On the shipped base model (stories260k,
292K parameters) the bench trains the global LoRA adapter on all users' training texts (4 epochs
at 3e-3, early stopping on the dev set: the non-personalized baseline, trained close to
convergence so that what the adapters add is not merely more training), then one adapter per
segment and one per user, each starting from the global adapter (up to 3 epochs at 1e-3,
stopping early on its own dev examples), two processes side by side. It then scores, on the
test set, the five rungs of `tailor evaluate`: zero-shot and few-shot (k=3 of the user's own
training texts, retrieved by BM25, as many as fit the 512-token context) on the base model, and
the global, segment and user adapters. A rung's figure is the mean over users of each user's
perplexity of their test replies; a user whose segment or user adapter was refused (it ended no
better than the global adapter it started from, so `tailor train` did not register it) counts at
the global adapter's figure, as the router would serve them.

`best_rung` is the personalized rung (few-shot, segment or user adapter) with the lowest
perplexity; `reduction_vs_global` is how much lower it is than the global adapter's (the goal is
at least 0.10), `reduction_vs_zero_shot` than zero-shot's. `ladder` is the ladder's own choice
per user (the lowest dev loss among the rungs the user's counts support), scored on the test set.
The absolute perplexities are high: the base model is tiny and knows only children's stories.
`--quick`: 6 users (two per segment), their newest 40 texts, one epoch each.

    .venv/bin/python bench/personalization_quality.py [--quick] [--data FOLDER] [--no-rouge]

The last line printed is one JSON object (see ../shared/BENCH.md).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "stackexchange_history_meta"
MIN_TEXTS = 20
REPLY_CHARS = 240
PROMPT_CHARS = 120
TEMPLATES = """\
version: 1
tasks:
  post:
    request: "{message}"
    segments:
      default:
        system: Write the post or comment this History Meta Stack Exchange member would write.
"""

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0]


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    return [dict(row.attrib) for row in ET.parse(path).getroot()]


def _band(reputation: int | None) -> str:
    if reputation is None:
        return "unknown"
    return "high" if reputation >= 20000 else "mid" if reputation >= 5000 else "low"


def load_users(folder: Path, min_texts: int = MIN_TEXTS) -> dict[str, dict[str, Any]]:
    """`user id -> {"segment", "texts": [(date, prompt, reply, kind)] oldest first}`."""
    from tailorai.data.clean import html_to_text

    posts = {p["Id"]: p for p in _rows(folder / "Posts.xml")}
    comments = _rows(folder / "Comments.xml")
    if not posts and not comments:
        raise SystemExit(f"No Posts.xml or Comments.xml in {folder}: pass --data FOLDER.")
    reputation = {u["Id"]: int(u.get("Reputation", 0)) for u in _rows(folder / "Users.xml")}

    def title(post_id: str | None) -> str:
        post = posts.get(post_id or "")
        if post is not None and post.get("PostTypeId") == "2":
            post = posts.get(post.get("ParentId", ""))
        return _cut(post.get("Title", ""), PROMPT_CHARS) if post is not None else ""

    texts: dict[str, list[tuple[str, str, str, str]]] = {}
    for post in posts.values():
        user, kind = post.get("OwnerUserId"), post.get("PostTypeId")
        if not user or kind not in ("1", "2"):
            continue
        reply = _cut(html_to_text(post.get("Body", "")), REPLY_CHARS)
        prompt = title(post["Id"]) or "Write a post."
        if reply:
            texts.setdefault(user, []).append((post["CreationDate"], prompt, reply, "post"))
    for comment in comments:
        user = comment.get("UserId")
        reply = _cut(comment.get("Text", ""), REPLY_CHARS)
        if not user or not reply:
            continue
        on = title(comment.get("PostId"))
        prompt = f"Write a comment on: {on}" if on else "Write a comment."
        texts.setdefault(user, []).append((comment["CreationDate"], prompt, reply, "comment"))
    return {
        user: {"segment": _band(reputation.get(user)), "texts": sorted(items)}
        for user, items in texts.items()
        if len(items) >= min_texts
    }


def split_by_time(
    users: dict[str, dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Per user, oldest first: 70% train, 10% dev, the newest 20% test."""
    train, dev, test = [], [], []
    for user, info in sorted(users.items()):
        items = info["texts"]
        n_test = max(2, round(len(items) * 0.2))
        n_dev = max(1, round(len(items) * 0.1))
        for i, (date, prompt, reply, kind) in enumerate(items):
            row = {
                "id": f"{user}-{i}",
                "user_id": user,
                "messages": [
                    {"role": "user", "content": prompt},
                    {"role": "assistant", "content": reply},
                ],
                "source": "stackexchange",
                "meta": {"segment": info["segment"], "kind": kind, "date": date},
            }
            part = train if i < len(items) - n_test - n_dev else dev
            (test if i >= len(items) - n_test else part).append(row)
    return train, dev, test


def pick_quick(users: dict[str, dict[str, Any]], n: int, per_user: int) -> dict[str, Any]:
    """A few users spread over the segments, each with their newest `per_user` texts."""
    by_segment: dict[str, list[str]] = {}
    for user in sorted(users, key=lambda u: (-len(users[u]["texts"]), u)):
        by_segment.setdefault(users[user]["segment"], []).append(user)
    chosen: list[str] = []
    while len(chosen) < n and any(by_segment.values()):
        for queue in by_segment.values():
            if queue and len(chosen) < n:
                chosen.append(queue.pop(0))
    return {
        u: {"segment": users[u]["segment"], "texts": users[u]["texts"][-per_user:]} for u in chosen
    }


def write_dataset(folder: Path, train: list[dict], dev: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    for name, rows in (("train", train), ("validation", dev)):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (folder / f"{name}.jsonl").write_text(text, encoding="utf-8")
        digest.update(text.encode())
    (folder / "report.json").write_text(json.dumps({"dataset_id": digest.hexdigest()[:16]}))
    return folder


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _train_scope(job: tuple[str, dict[str, Any], int]) -> list[tuple[str, str, dict[str, Any]]]:
    """Train one scope in a worker process; the caller promotes what it registered."""
    scope, options, threads = job
    import torch

    torch.set_num_threads(threads)
    from tailorai.errors import NotImprovedError
    from tailorai.training import Registry, TrainConfig, train

    registry = Registry()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.simplefilter("ignore")
            versions = train(TrainConfig(**options, scope=scope), registry=registry, progress=False)
    except NotImprovedError as refused:  # no better than the adapter it started from
        _log(f"  {refused}")
        return [(None, scope, {})]
    finally:
        registry.close()
    keys = ("initial_val_loss", "best_val_loss", "epochs_run", "examples")
    return [(v.ref, v.scope, {k: v.metrics.get(k) for k in keys}) for v in versions]


def train_rungs(
    data: Path, users: dict[str, dict[str, Any]], args: argparse.Namespace
) -> tuple[dict[str, Any], list[str]]:
    """Train and promote the global adapter, then segment and user adapters starting from it;
    also the scopes whose adapter was refused for ending no better than where it started.

    The adapters after the global one are independent jobs: `--workers` processes train them
    side by side, one torch thread each.
    """
    import multiprocessing

    from tailorai.training import Registry

    common = {
        "data": str(data),
        "base_model": args.base,
        "method": "lora",
        "logging_steps": 50,
        "report_to": ["none"],
        "seed": 0,
        "patience": 1,
    }
    trained: dict[str, dict[str, Any]] = {}
    refused: list[str] = []  # scopes whose adapter ended no better than the global one
    registry = Registry()

    def promote(results: list[tuple[str | None, str, dict[str, Any]]]) -> None:
        for ref, scope, metrics in results:
            if ref is None:
                refused.append(scope)
                continue
            registry.promote(ref)
            trained[scope] = metrics
            _log(
                f"  {scope}: dev loss {metrics['initial_val_loss']:.3f} -> "
                f"{metrics['best_val_loss']:.3f} ({metrics['epochs_run']:g} epochs)"
            )

    global_options = {
        **common,
        "epochs": args.global_epochs,
        "learning_rate": args.learning_rate,
        "batch_size": 8,
    }
    promote(_train_scope(("global", global_options, args.threads)))
    adapter_options = {
        **common,
        "epochs": args.adapter_epochs,
        "learning_rate": args.adapter_learning_rate,
        "batch_size": 8,
    }
    sizes: Counter[str] = Counter()
    for user, info in users.items():
        sizes[f"segment:{info['segment']}"] += len(info["texts"])
        sizes[f"user:{user}"] = len(info["texts"])
    jobs = [(scope, adapter_options, 1) for scope, _ in sizes.most_common()]  # biggest first
    if args.workers <= 1:
        for job in jobs:
            promote(_train_scope(job))
    else:
        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            for results in pool.imap_unordered(_train_scope, jobs):
                promote(results)
    registry.close()
    return trained, refused


def ladder_choice(
    train: list[dict], dev: list[dict], dev_eval: Any, test_eval: Any
) -> dict[str, Any]:
    """The ladder's rung per user (lowest dev loss among what the counts support), on test."""
    from tailorai.training.ladder import plan

    chosen = plan(train, dev, evaluation=dev_eval)
    per_user = []
    counts: Counter[str] = Counter()
    for rec in chosen.users:
        score = test_eval.scores.get(rec.rung)
        value = score.perplexity_by("user").get(rec.name) if score is not None else None
        if value is not None:
            per_user.append(value)
            counts[rec.rung] += 1
    return {
        "perplexity": sum(per_user) / len(per_user) if per_user else math.nan,
        "rungs": dict(counts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Stack Exchange dump.")
    parser.add_argument("--base", default=None, help="Base model (default: the settings').")
    parser.add_argument(
        "--users", type=int, default=None, help="Most active users kept, spread over segments."
    )
    parser.add_argument("--quick", action="store_true", help="6 users, 40 texts each, 1 epoch.")
    parser.add_argument("--rouge", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--global-epochs", type=int, default=None)
    parser.add_argument("--adapter-epochs", type=int, default=None)
    parser.add_argument("--learning-rate", type=float, default=None, help="3e-3 tiny, 5e-4 else")
    parser.add_argument(
        "--adapter-learning-rate", type=float, default=None, help="1e-3 tiny, 3e-4 else"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="Processes training adapters: 2, or 1 with --quick (starting one costs seconds).",
    )
    parser.add_argument(
        "--max-texts",
        type=int,
        default=None,
        help="Each user's newest texts kept: 200 on the tiny model (the most active author has "
        "588), 40 on a real one.",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="Torch threads: one on the tiny model (its 64-wide matrices gain little from more, "
        "and on a busy machine spinning threads made steps 10x slower), two on a real one.",
    )
    args = parser.parse_args()
    from tailorai.settings import get_settings

    args.base = args.base or get_settings().base_model
    tiny = args.base == "stories260k"
    args.global_epochs = args.global_epochs or (1 if args.quick else 4 if tiny else 2)
    args.adapter_epochs = args.adapter_epochs or (1 if args.quick else 3 if tiny else 2)
    args.workers = args.workers or (1 if args.quick or not tiny else 2)
    args.threads = args.threads or (1 if tiny else 2)
    args.max_texts = args.max_texts or (200 if tiny else 40)
    args.learning_rate = args.learning_rate or (3e-3 if tiny else 5e-4)
    args.adapter_learning_rate = args.adapter_learning_rate or (1e-3 if tiny else 3e-4)

    started = time.perf_counter()
    import torch

    torch.set_num_threads(args.threads)
    home = Path(tempfile.mkdtemp(prefix="tailor-bench-quality-"))
    # Converted base models are named by their file's hash: share the checkout's.
    os.environ.setdefault("TAILOR_MODELS_DIR", str(ROOT / ".tailor" / "models"))
    os.environ["TAILOR_HOME"] = str(home)
    os.environ["TAILOR_DATABASE_URL"] = f"sqlite:///{home / 'tailor.db'}"

    from tailorai.prompting import TemplateSet
    from tailorai.training.evaluate import RUNGS, evaluate

    users = load_users(args.data)
    if args.quick:
        users = pick_quick(users, n=6, per_user=40)
    elif args.users:
        users = pick_quick(users, n=args.users, per_user=args.max_texts)
    else:
        users = {
            u: {**info, "texts": info["texts"][-args.max_texts :]} for u, info in users.items()
        }
    train, dev, test = split_by_time(users)
    data = write_dataset(home / "dataset", train, dev)
    segments = Counter(info["segment"] for info in users.values())
    _log(
        f"{len(users)} users in segments {dict(segments)}; examples: train {len(train)}, "
        f"dev {len(dev)}, test {len(test)}"
    )

    t0 = time.perf_counter()
    trained, refused = train_rungs(data, users, args)
    train_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    templates = TemplateSet.from_dict(__import__("yaml").safe_load(TEMPLATES), source="bench")
    options = {
        "train": train,
        "templates": templates,
        "task": "post",
        "k": 3,
        "batch_size": 16,
        "base_model": args.base,
    }
    test_eval = evaluate(test, with_rouge=args.rouge, max_new_tokens=48, **options)
    dev_eval = evaluate(dev, with_rouge=False, **options)
    ladder = ladder_choice(train, dev, dev_eval, test_eval)
    evaluate_seconds = time.perf_counter() - t0

    scores = test_eval.scores
    # A user whose segment or user adapter was refused is served by the global adapter, as
    # the router would: every rung's figure is the mean over the same users. A rung whose
    # adapters were all refused is not scored at all: all its users get the global adapter.
    per_user = {r: scores[r].perplexity_by("user") if r in scores else {} for r in RUNGS}
    everyone = per_user["global_adapter"]
    perplexity = {
        r: sum(values.get(u, everyone[u]) for u in everyone) / len(everyone)
        if r in ("segment_adapter", "user_adapter")
        else scores[r].perplexity
        for r, values in per_user.items()
    }
    # A rung with no adapter left (all refused) is the global adapter under another name.
    personalized = {
        r: perplexity[r]
        for r in ("few_shot", "segment_adapter", "user_adapter")
        if r == "few_shot" or per_user[r]
    }
    best = min(personalized, key=lambda r: personalized[r])
    wins = sum(
        per_user["user_adapter"][u] < per_user["global_adapter"][u]
        for u in per_user["user_adapter"]
        if u in per_user["global_adapter"]
    )
    for rung in (r for r in RUNGS if r in scores):
        score = scores[rung]
        _log(
            f"{rung:>16}: perplexity {score.perplexity:8.2f}  ROUGE-1 {score.rouge1 or 0:.3f}  "
            f"ROUGE-L {score.rougeL or 0:.3f}  users {score.users}  shots {score.shots:.2f}"
        )
    _log(f"{'ladder':>16}: perplexity {ladder['perplexity']:8.2f}  rungs {ladder['rungs']}")

    result = {
        "bench": "personalization_quality",
        "users": len(users),
        "perplexity": {r: round(v, 3) for r, v in perplexity.items()},
        "best_rung": best,
        "reduction_vs_zero_shot": round(1 - personalized[best] / perplexity["zero_shot"], 4),
        "reduction_vs_global": round(1 - personalized[best] / perplexity["global_adapter"], 4),
        "goal_reduction_vs_global": 0.10,
        "rouge1": {r: round(s.rouge1, 4) for r, s in test_eval.scores.items() if s.rouge1},
        "rougeL": {r: round(s.rougeL, 4) for r, s in test_eval.scores.items() if s.rougeL},
        "ladder": {
            "perplexity": round(ladder["perplexity"], 3),
            "reduction_vs_global": round(
                1 - ladder["perplexity"] / perplexity["global_adapter"], 4
            ),
            "rungs": ladder["rungs"],
        },
        "user_adapter_beats_global_for": f"{wins}/{len(per_user['user_adapter'])} users",
        "adapters_refused": {
            "segment": sum(s.startswith("segment:") for s in refused),
            "user": sum(s.startswith("user:") for s in refused),
            "why": "dev loss never went below the global adapter's; those users get global",
        },
        "few_shot_mean_shots": round(test_eval.scores["few_shot"].shots, 2),
        "examples": {"train": len(train), "dev": len(dev), "test": len(test)},
        "segments": dict(segments),
        "base_model": args.base,
        "epochs": {"global": args.global_epochs, "adapters": args.adapter_epochs},
        "global_dev_loss": [
            round(trained["global"]["initial_val_loss"], 3),
            round(trained["global"]["best_val_loss"], 3),
        ],
        "global_epochs_run": trained["global"]["epochs_run"],
        "train_seconds": round(train_seconds, 1),
        "evaluate_seconds": round(evaluate_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
        "quick": args.quick,
    }
    shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
