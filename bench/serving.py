"""Serving: mixed-adapter micro-batching, personalization overhead, many adapters, variants.

On the shipped base model (stories260k) with LoRA adapters made for the run (r=8 on every
linear layer, random B so each changes the output):

- `mixed_batch_tokens_per_s` vs `sequential_tokens_per_s`: 8 concurrent users on 8 different
  adapters, greedy, 32 new tokens each, through `LocalBackend.submit` (micro-batched into one
  forward pass per step) beside the same requests one at a time (`speedup`).
- `overhead_p50_ms`, `overhead_p99_ms`: `Personalizer.generate` wall time less the back end's
  own generation time: features, routing, prompt composition, guardrails (PII scrub off: it is
  the data stage's benchmark) and the stored record, over 200 requests.
- `tokens_per_s_by_adapters`: the mixed batch's tokens/s with 1, 10 and 100 adapters loaded
  (each batch uses 8 of them, so with 1 loaded all rows share it); the goal is that 100 cost
  under 10% (`cost_of_100_adapters`, against 1; `cost_of_100_vs_10_adapters` compares two
  batches that both mix 8 adapters).
- `adapter_mb`: one adapter's size on disk.
- `variants_p99_ms`: `GET /v1/variants/NAME?user_id=` through the real server, 500 calls.

    .venv/bin/python bench/serving.py [--quick]

The last line printed is one JSON object (see ../shared/BENCH.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (offline settings)


def _adapters(base: str, folder: Path, count: int) -> list[Path]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    paths = []
    for i in range(count):
        torch.manual_seed(i)
        model = get_peft_model(
            AutoModelForCausalLM.from_pretrained(base),
            LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", init_lora_weights=False),
        )
        path = folder / f"adapter-{i}"
        model.save_pretrained(path)
        paths.append(path)
    return paths


def _tokens_per_s(backend: Any, requests: list[Any], concurrent: bool) -> float:
    started = time.perf_counter()
    if concurrent:
        futures = [backend.submit(r) for r in requests]
        results = [f.result() for f in futures]
    else:
        results = [backend.generate_one(r) for r in requests]
    return sum(r.completion_tokens for r in results) / (time.perf_counter() - started)


def _requests(keys: list[str | None], tokens: int) -> list[Any]:
    from tailorai.generation import GenerationRequest

    return [
        GenerationRequest(
            messages=[{"role": "user", "content": f"Tell me a story about friend number {i}."}],
            adapter=key,
            max_new_tokens=tokens,
        )
        for i, key in enumerate(keys)
    ]


def mixed_batches(base: str, adapters: list[Path], rounds: int) -> dict[str, Any]:
    from tailorai.generation import LocalBackend

    keys = [f"a{i}" for i in range(8)]
    backend = LocalBackend(base, max_adapters=128, max_batch=8, batch_wait_ms=20)
    for key, path in zip(keys, adapters, strict=False):
        backend.add_adapter(key, path)
    _tokens_per_s(backend, _requests(keys, 4), concurrent=True)  # load them, warm up
    mixed = statistics.median(
        _tokens_per_s(backend, _requests(keys, 32), concurrent=True) for _ in range(rounds)
    )
    sequential = statistics.median(
        _tokens_per_s(backend, _requests(keys, 32), concurrent=False) for _ in range(rounds)
    )
    # Closed before the next ones start: an idle back end whose worker thread has run torch
    # keeps its OpenMP team, and more OpenMP threads than cores make every team sleep between
    # parallel regions (libgomp's throttled spin), halving a small model's speed.
    backend.close()
    del backend
    by_count = {}
    for count in (1, 10, 100):
        loaded = [f"n{count}-{i}" for i in range(count)]
        with LocalBackend(base, max_adapters=128, max_batch=8, batch_wait_ms=20) as many:
            for key, path in zip(loaded, adapters, strict=False):
                many.add_adapter(key, path)
            for start in range(0, count, 8):  # load every one of them
                _tokens_per_s(many, _requests(loaded[start : start + 8], 2), concurrent=True)
            use = [loaded[i % count] for i in range(8)]
            by_count[str(count)] = round(
                statistics.median(
                    _tokens_per_s(many, _requests(use, 32), concurrent=True) for _ in range(rounds)
                ),
                1,
            )
    return {"mixed": mixed, "sequential": sequential, "by_count": by_count}


def overhead(base: str, adapters: list[Path], folder: Path, calls: int) -> tuple[float, float]:
    from tailorai.events import SqlEventStream, parse_event
    from tailorai.generation import LocalBackend, Personalizer
    from tailorai.projects import ensure_project
    from tailorai.segments import FeatureStore
    from tailorai.store import Store

    store = Store(f"sqlite:///{folder / 'overhead.db'}")
    ensure_project(store, "bench")
    now = datetime.now(UTC)
    events = [
        parse_event({"type": "track", "event": "Viewed", "userId": f"u{i}"}, now) for i in range(50)
    ]
    FeatureStore(store).update("bench", SqlEventStream(store).append("bench", events).new)
    backend = LocalBackend(base)
    personalizer = Personalizer(
        store=store, backend=backend, project="bench", max_new_tokens=4, scrub_pii=False
    )
    seen: list[float] = []
    original = backend.generate_one

    def timed(request: Any) -> Any:
        result = original(request)
        seen.append(result.seconds)
        return result

    backend.generate_one = timed  # type: ignore[method-assign]
    costs = []
    for i in range(calls):
        record = personalizer.generate(f"u{i % 50}", "email", {"goal": "hello"})
        costs.append(record.latency_ms - seen[-1] * 1000)
    backend.close()
    store.close()
    costs.sort()
    return statistics.median(costs), costs[int(0.99 * (len(costs) - 1))]


def variants_latency(base: str, folder: Path, calls: int) -> float:
    import socket

    import httpx
    import uvicorn

    from tailorai.generation import LocalBackend, Personalizer
    from tailorai.generation.variants import Variants
    from tailorai.projects import create_key
    from tailorai.segments import FeatureStore
    from tailorai.server import create_app
    from tailorai.store import Store

    store = Store(f"sqlite:///{folder / 'variants.db'}")
    key = create_key(store, "bench", "public")
    backend = LocalBackend(base)
    personalizer = Personalizer(
        store=store, backend=backend, project="bench", max_new_tokens=8, scrub_pii=False
    )
    Variants(store, FeatureStore(store)).build(
        personalizer, "product_description", {"product": "boots"}, segments=["buyers"]
    )
    backend.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(store, rate_limit=0, home=folder)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    latencies = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        headers = {"X-Write-Key": key}
        for i in range(calls + 20):
            started = time.perf_counter()
            answer = http.get(f"/v1/variants/product_description?user_id=u{i}", headers=headers)
            assert answer.status_code == 200, answer.text
            if i >= 20:  # the first calls warm the cache and the connection
                latencies.append((time.perf_counter() - started) * 1000)
    server.should_exit = True
    thread.join(timeout=10)
    store.close()
    latencies.sort()
    return latencies[int(0.99 * (len(latencies) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and calls")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    os.environ["TAILOR_HOME"] = str(folder / "home")
    os.environ["TAILOR_DATABASE_URL"] = f"sqlite:///{folder / 'tailor.db'}"
    try:
        from tailorai.training import resolve_model_path

        base = resolve_model_path(None)
        adapters = _adapters(base, folder, 100)
        adapter_mb = sum(f.stat().st_size for f in adapters[0].rglob("*") if f.is_file()) / 2**20
        rounds = 2 if args.quick else 5
        batches = mixed_batches(base, adapters, rounds)
        p50, p99 = overhead(base, adapters, folder, 50 if args.quick else 200)
        variants_p99 = variants_latency(base, folder, 100 if args.quick else 500)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    by_count = batches["by_count"]
    print(
        json.dumps(
            {
                "bench": "serving",
                "mixed_batch_tokens_per_s": round(batches["mixed"], 1),
                "sequential_tokens_per_s": round(batches["sequential"], 1),
                "speedup": round(batches["mixed"] / batches["sequential"], 2),
                "overhead_p50_ms": round(p50, 2),
                "overhead_p99_ms": round(p99, 2),
                "tokens_per_s_by_adapters": by_count,
                "cost_of_100_adapters": round(1 - by_count["100"] / by_count["1"], 3),
                # Both batches mix 8 distinct adapters: what holding 90 more costs alone.
                "cost_of_100_vs_10_adapters": round(1 - by_count["100"] / by_count["10"], 3),
                "adapter_mb": round(adapter_mb, 3),
                "variants_p99_ms": round(variants_p99, 2),
                "base_model": "stories260k (shipped)",
                "concurrent_users": 8,
                "new_tokens": 32,
                "goals": {
                    "speedup": 4,
                    "overhead_p99_ms": 5,
                    "cost_of_100_adapters": 0.10,
                    "variants_p99_ms": 5,
                },
                "quick": args.quick,
            }
        )
    )


if __name__ == "__main__":
    main()
