"""Personalization quality: held-out perplexity of every rung of the ladder, per user.

Data: a Stack Exchange dump (`Posts.xml`, `Comments.xml`, optionally `Users.xml`). Every author
with at least 20 posts and comments is a user. An example's prompt is the question title (for a
question or an answer: the title of the question answered) or "Write a comment on: <title>" for
a comment; its reply is the user's own text, HTML turned into plain text and cut at a word
boundary to 240 characters (the shipped model's context is 512 tokens of ~1.7 characters).
Segments are reputation bands from `Users.xml` (low < 5,000 <= mid < 20,000 <= high).

Each user's newest texts are kept (`--max-texts`) and split by time: the newest 20% are the test
set, the 10% before them the dev set (early stopping, and the ladder's measured choice), the rest
the training set. The bench trains, through `tailor train`'s own code:

1. the global LoRA adapter on all users' training texts (the non-personalized baseline, early
   stopping on the dev set);
2. `global-rag`, that adapter trained on (`--rag-epochs`) with retrieval-augmented prompts
   (`retrieval_k`, as LaMP and OPPU do): each text after up to `--k` of its user's other
   training texts, retrieved by BM25 on its request, learning the text alone;
3. one adapter per segment and one per user, starting from `global-rag`, also
   retrieval-augmented (`--adapters`).

It then scores, on the test set, zero-shot and few-shot (k of the user's own training texts in
the prompt) on the base model; the global adapter; the global adapter with k retrieved texts it
was not trained with (`global_retrieval_untrained`); `global-rag` with its k texts
(`global_retrieval`); and the segment and user adapters. A rung's figure is the mean over users
of each user's perplexity of their test replies; a user whose segment or user adapter was
refused (it ended no better than where it started, so `tailor train` did not register it) counts
at `global-rag`'s figure, as the router would serve them.

`best_rung` is the personalized rung with the lowest perplexity; `reduction_vs_global` is how much
lower it is than the global adapter's (the goal is at least 0.10); `improves_on_global_for` counts
the users each rung helps. `ladder` is the ladder's own choice per user (the lowest dev loss among
the rungs the user's counts support), scored on the test set, and how many users it serves within
3% of their best rung.

Sizes: on SmolLM2 a training step reads ~140 tokens/s on 2 CPU cores, so the default run takes 6
users (two per segment) and their newest 24 texts (~10 minutes); `--users N --max-texts M` or
`--full` (all 23 authors, 40 texts each: hours) measure more. On the tiny model (`--base
stories260k`) every author is used. `--quick`: 2 users, 12 texts, one epoch each, no segment
adapters.

    .venv/bin/python bench/personalization_quality.py [--quick|--full] [--base NAME] [--rouge]

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
    """Train the rungs' adapters; also the scopes whose adapter was refused for ending no
    better than where it started.

    1. `global`: plain LoRA on all users' training texts (the non-personalized baseline),
       promoted to production.
    2. `global-rag` (with `--k`): the same adapter trained on from there on retrieval-augmented
       prompts: each text after up to k of its user's other training texts (`retrieval_k`).
    3. One adapter per segment and one per user, starting from `global-rag` (or `global`
       without it), also retrieval-augmented.

    The segment and user adapters are independent jobs: `--workers` processes train them side
    by side, one torch thread each.
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
        "batch_size": 8,
    }
    trained: dict[str, dict[str, Any]] = {}
    refused: list[str] = []  # scopes whose adapter ended no better than where it started
    registry = Registry()

    def promote(results: list[tuple[str | None, str, dict[str, Any]]], stage: bool) -> None:
        for ref, scope, metrics in results:
            if ref is None:
                refused.append(scope)
                continue
            if stage:
                registry.promote(ref)
            trained[ref.split("@")[0] if scope == "global" else scope] = {**metrics, "ref": ref}
            _log(
                f"  {ref}: dev loss {metrics['initial_val_loss']:.3f} -> "
                f"{metrics['best_val_loss']:.3f} ({metrics['epochs_run']:g} epochs)"
            )

    plain = {**common, "epochs": args.global_epochs, "learning_rate": args.learning_rate}
    promote(_train_scope(("global", plain, args.threads)), stage=True)
    start = trained["global"]["ref"]
    if args.k:
        rag = {
            **common,
            "name": "global-rag",
            "init_from": start,
            "retrieval_k": args.k,
            "epochs": args.rag_epochs,
            "learning_rate": args.learning_rate,
        }
        promote(_train_scope(("global", rag, args.threads)), stage=False)
        start = trained.get("global-rag", {}).get("ref", start)
    adapter_options = {
        **common,
        "init_from": start,
        "retrieval_k": args.k if start != trained["global"]["ref"] else 0,
        "epochs": args.adapter_epochs,
        "learning_rate": args.adapter_learning_rate,
    }
    sizes: Counter[str] = Counter()
    for user, info in users.items():
        if "segment" in args.adapters:
            sizes[f"segment:{info['segment']}"] += len(info["texts"])
        if "user" in args.adapters:
            sizes[f"user:{user}"] = len(info["texts"])
    jobs = [(scope, adapter_options, 1) for scope, _ in sizes.most_common()]  # biggest first
    if args.workers <= 1:
        for job in jobs:
            promote(_train_scope((*job[:2], args.threads)), stage=True)
    else:
        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            for results in pool.imap_unordered(_train_scope, jobs):
                promote(results, stage=True)
    registry.close()
    return trained, refused


def evaluate_rungs(
    rows: list[dict], trained: dict[str, Any], options: dict[str, Any], *, with_rouge: bool
) -> dict[str, Any]:
    """Every rung's scores on `rows`, by the bench's names.

    With the plain global adapter in production: zero_shot, few_shot, global_adapter and
    `global_retrieval_untrained` (it, with k retrieved texts it was not trained with). Then
    with `global-rag` in production: `global_retrieval` (it, with its k texts), and the
    segment and user adapters started from it.
    """
    from tailorai.training import Registry
    from tailorai.training.evaluate import evaluate

    registry = Registry()
    try:
        first = evaluate(
            rows,
            rungs=["zero_shot", "few_shot", "global_adapter", "global_retrieval"],
            registry=registry,
            with_rouge=with_rouge,
            **options,
        )
        scores = dict(first.scores)
        scores["global_retrieval_untrained"] = scores.pop("global_retrieval")
        adapters = ["segment_adapter", "user_adapter"]
        if "global-rag" in trained:
            registry.promote(trained["global-rag"]["ref"])
            adapters.insert(0, "global_adapter")
        second = evaluate(rows, rungs=adapters, registry=registry, with_rouge=with_rouge, **options)
        if "global-rag" in trained:
            registry.promote(trained["global"]["ref"])  # the baseline, for the next call
            scores["global_retrieval"] = second.scores.pop("global_adapter")
        scores.update(second.scores)
    finally:
        registry.close()
    return scores


def pool_curve(
    rows: list[dict],
    train: list[dict],
    trained: dict[str, Any],
    options: dict[str, Any],
    sizes: list[int],
) -> dict[str, dict[int, float]]:
    """Few-shot and `global_retrieval` perplexity when retrieval may only pick from each user's
    newest `n` training texts, for each `n` in `sizes`: from how many own texts retrieval helps
    (the ladder's `few_shot` threshold)."""
    from tailorai.prompting import BM25Retriever, row_example
    from tailorai.training import Registry
    from tailorai.training.evaluate import evaluate

    newest: dict[str, list[dict]] = {}
    for row in train:  # oldest first per user, as split_by_time wrote them
        newest.setdefault(row["user_id"], []).append(row)
    curve: dict[str, dict[int, float]] = {"few_shot": {}, "global_retrieval": {}}
    registry = Registry()
    try:
        if "global-rag" in trained:
            registry.promote(trained["global-rag"]["ref"])
        for n in sizes:
            pool = [r for rows_of in newest.values() for r in rows_of[-n:]]
            retriever = BM25Retriever().fit(row_example(r) for r in pool)
            found = evaluate(
                rows,
                rungs=["few_shot", "global_retrieval"],
                registry=registry,
                with_rouge=False,
                retriever=retriever,
                **{**options, "train": pool},
            )
            for rung, score in found.scores.items():
                curve[rung][n] = round(score.perplexity, 3)
            _log(
                f"  own texts to retrieve from {n}: "
                + ", ".join(f"{r} {v[n]:.2f}" for r, v in curve.items() if n in v)
            )
    finally:
        if "global-rag" in trained:
            registry.promote(trained["global"]["ref"])
        registry.close()
    return curve


def ladder_choice(
    train: list[dict], dev: list[dict], dev_scores: dict[str, Any], test_scores: dict[str, Any]
) -> dict[str, Any]:
    """The ladder's rung per user (lowest dev loss among what the counts support), on test."""
    from tailorai.training.evaluate import Evaluation
    from tailorai.training.ladder import plan

    ladder_rungs = {k: v for k, v in dev_scores.items() if k != "global_retrieval_untrained"}
    chosen = plan(train, dev, evaluation=Evaluation(ladder_rungs, examples=len(dev)))
    chosen_by_user: dict[str, tuple[str, float]] = {}
    counts: Counter[str] = Counter()
    for rec in chosen.users:
        score = test_scores.get(rec.rung)
        value = score.perplexity_by("user").get(rec.name) if score is not None else None
        if value is not None:
            chosen_by_user[rec.name] = (rec.rung, value)
            counts[rec.rung] += 1
    values = [v for _, v in chosen_by_user.values()]
    return {
        "perplexity": sum(values) / len(values) if values else math.nan,
        "rungs": dict(counts),
        "by_user": chosen_by_user,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Stack Exchange dump.")
    parser.add_argument("--base", default=None, help="Base model (default: the settings').")
    parser.add_argument(
        "--users",
        type=int,
        default=None,
        help="Most active users kept, spread over segments: 6 on a real model (--full: all), "
        "all on the tiny one.",
    )
    parser.add_argument("--full", action="store_true", help="All users (hours on 2 CPU cores).")
    parser.add_argument(
        "--quick", action="store_true", help="About a minute: 2 users, 12 texts, user adapters."
    )
    parser.add_argument("--rouge", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--k", type=int, default=None, help="Retrieved own texts: 2 (tiny: 3).")
    parser.add_argument("--global-epochs", type=int, default=None)
    parser.add_argument("--rag-epochs", type=int, default=1)
    parser.add_argument("--adapter-epochs", type=int, default=None)
    parser.add_argument(
        "--adapters",
        default="segment,user",
        help="Which personal adapters to train: segment, user, both (the default) or none.",
    )
    parser.add_argument(
        "--pool-sizes",
        default="",
        help="Also score few-shot and global_retrieval when retrieval may pick only from each "
        "user's newest N training texts, for each N (e.g. 1,2,3,5,10): where it starts to help.",
    )
    parser.add_argument("--learning-rate", type=float, default=None, help="3e-3 tiny, 5e-4 else")
    parser.add_argument(
        "--adapter-learning-rate", type=float, default=None, help="1e-3 tiny, 3e-4 else"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="Processes training adapters: 2 on the tiny model, else 1.",
    )
    parser.add_argument(
        "--max-texts",
        type=int,
        default=None,
        help="Each user's newest texts kept: 200 on the tiny model (the most active author has "
        "588), 24 on a real one (40 with --full).",
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
    args.adapter_epochs = args.adapter_epochs or (1 if args.quick or not tiny else 3)
    args.workers = args.workers or (1 if args.quick or not tiny else 2)
    args.threads = args.threads or (1 if tiny else 2)
    args.max_texts = args.max_texts or (200 if tiny else 40 if args.full else 24)
    args.learning_rate = args.learning_rate or (3e-3 if tiny else 5e-4)
    args.adapter_learning_rate = args.adapter_learning_rate or (1e-3 if tiny else 3e-4)
    args.k = (3 if tiny else 2) if args.k is None else args.k
    args.rouge = tiny if args.rouge is None else args.rouge
    args.adapters = {a for a in args.adapters.replace("both", "segment,user").split(",")} - {
        "none",
        "",
    }
    if not args.users and not args.full and not tiny:
        args.users = 6

    started = time.perf_counter()
    import torch

    torch.set_num_threads(args.threads)
    home = Path(tempfile.mkdtemp(prefix="tailor-bench-quality-"))
    # Converted base models are named by their file's hash: share the checkout's.
    os.environ.setdefault("TAILOR_MODELS_DIR", str(ROOT / ".tailor" / "models"))
    os.environ["TAILOR_HOME"] = str(home)
    os.environ["TAILOR_DATABASE_URL"] = f"sqlite:///{home / 'tailor.db'}"

    from tailorai.prompting import TemplateSet

    users = load_users(args.data)
    if args.quick:
        users = pick_quick(users, n=2, per_user=12)
        args.adapters = {"user"}
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
        "k": args.k or 3,
        "batch_size": 16,
        "base_model": args.base,
    }
    scores = evaluate_rungs(test, trained, {**options, "max_new_tokens": 48}, with_rouge=args.rouge)
    dev_scores = evaluate_rungs(dev, trained, options, with_rouge=False)
    ladder = ladder_choice(train, dev, dev_scores, scores)
    sizes = [int(n) for n in args.pool_sizes.split(",") if n.strip()] if args.pool_sizes else []
    curve = pool_curve(test, train, trained, options, sizes) if sizes else None
    evaluate_seconds = time.perf_counter() - t0

    # A user whose segment or user adapter was refused is served by the global adapter they
    # would have started from, as the router would: every rung's figure is the mean over the
    # same users. A rung whose adapters were all refused is not scored at all.
    per_user = {r: s.perplexity_by("user") for r, s in scores.items()}
    baseline = per_user["global_adapter"]
    fallback = per_user.get("global_retrieval") or baseline
    for rung in ("segment_adapter", "user_adapter"):
        if per_user.get(rung):
            per_user[rung] = {u: per_user[rung].get(u, fallback[u]) for u in baseline}
    perplexity = {r: sum(v.values()) / len(v) for r, v in per_user.items() if v}
    order = [
        "zero_shot",
        "few_shot",
        "global_adapter",
        "global_retrieval_untrained",
        "global_retrieval",
        "segment_adapter",
        "user_adapter",
    ]
    personalized = {r: perplexity[r] for r in [*order[3:], "few_shot"] if r in perplexity}
    best = min(personalized, key=lambda r: personalized[r])
    improves = {
        r: f"{sum(per_user[r][u] < baseline[u] for u in baseline)}/{len(baseline)}"
        for r in personalized
    }
    # The ladder against the best rung of each user (among all rungs it may choose).
    candidates = [r for r in order if r in per_user and r != "global_retrieval_untrained"]
    within = sum(
        value <= 1.03 * min(per_user[r][u] for r in candidates)
        for u, (_, value) in ladder["by_user"].items()
    )
    for rung in (r for r in order if r in scores):
        score = scores[rung]
        _log(
            f"{rung:>26}: perplexity {perplexity[rung]:8.2f}  ROUGE-L {score.rougeL or 0:.3f}  "
            f"users {score.users}  shots {score.shots:.2f}"
        )
    _log(f"{'ladder':>26}: perplexity {ladder['perplexity']:8.2f}  rungs {ladder['rungs']}")

    def losses(name: str) -> list[float] | None:
        found = trained.get(name)
        if not found:
            return None
        return [round(found["initial_val_loss"], 3), round(found["best_val_loss"], 3)]

    result = {
        "bench": "personalization_quality",
        "users": len(users),
        "perplexity": {
            **{r: round(perplexity[r], 3) for r in order if r in perplexity},
            "ladder": round(ladder["perplexity"], 3),
        },
        "ladder_within_3pct": round(within / len(ladder["by_user"]), 4)
        if ladder["by_user"]
        else None,
        "best_rung": best,
        "reduction_vs_zero_shot": round(1 - personalized[best] / perplexity["zero_shot"], 4),
        "reduction_vs_global": round(1 - personalized[best] / perplexity["global_adapter"], 4),
        "goal_reduction_vs_global": 0.10,
        "improves_on_global_for": improves,
        "rougeL": {r: round(s.rougeL, 4) for r, s in scores.items() if s.rougeL},
        "ladder": {
            "perplexity": round(ladder["perplexity"], 3),
            "reduction_vs_global": round(
                1 - ladder["perplexity"] / perplexity["global_adapter"], 4
            ),
            "rungs": ladder["rungs"],
            "within_3pct_of_users_best": f"{within}/{len(ladder['by_user'])}",
        },
        "adapters_refused": {
            "global_rag": "global" in refused and "global-rag" not in trained and bool(args.k),
            "segment": sum(s.startswith("segment:") for s in refused),
            "user": sum(s.startswith("user:") for s in refused),
            "why": "dev loss never went below where it started; those users get its start",
        },
        "mean_shots": {r: round(s.shots, 2) for r, s in scores.items() if s.shots},
        "examples": {"train": len(train), "dev": len(dev), "test": len(test)},
        "segments": dict(segments),
        "base_model": args.base,
        "k": args.k,
        "epochs": {
            "global": args.global_epochs,
            "global_rag": args.rag_epochs if args.k else 0,
            "adapters": args.adapter_epochs,
        },
        "dev_loss": {"global": losses("global"), "global_rag": losses("global-rag")},
        "train_seconds": round(train_seconds, 1),
        "evaluate_seconds": round(evaluate_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
        "quick": args.quick,
        "own_texts_curve": curve,
        "by_user": {
            user: {
                "segment": users[user]["segment"],
                "train": sum(r["user_id"] == user for r in train),
                "perplexity": {r: round(v[user], 2) for r, v in per_user.items() if user in v},
                "ladder": ladder["by_user"].get(user, (None,))[0],
            }
            for user in baseline
        },
    }
    shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
