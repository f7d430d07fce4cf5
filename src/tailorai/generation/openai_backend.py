"""`OpenAIBackend`: generation by any server that speaks `/v1/chat/completions`.

vLLM started with `--enable-lora --lora-modules segment-buyers@2=/path/to/adapter` serves an
adapter under its name, so a request for an adapter is sent with `model` set to the adapter's
key (the registry ref), and a request for the plain base with `model=base_model_name`. Ollama,
OpenAI itself, or another `tailor serve` work the same way.

Timeouts are per request; connection failures, 429 and 5xx answers are retried with backoff
(honouring `Retry-After`): a chat completion changes nothing upstream, so a retry is safe. What
still fails raises `ModelError`, which the server answers as 503.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tailorai.errors import ModelError
from tailorai.records import GenerationRequest, GenerationResult, TextStream

__all__ = ["OpenAIBackend"]


class OpenAIBackend:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        base_model_name: str = "base",
        tokenizer: Any = None,
        context_length: int | None = None,
        timeout: float = 60.0,
        retries: int = 3,
    ) -> None:
        """`tokenizer` and `context_length` (of the upstream model, when known) let prompts be
        fitted to its context; without them prompts are sent whole."""
        self.base_url = base_url.rstrip("/")
        self.base_model_name = base_model_name
        self.tokenizer = tokenizer
        self.context_length = context_length
        self.retries = retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=timeout, headers=headers)
        self._adapters: dict[str, str] = {}

    # -- adapters: names the upstream knows --------------------------------------------------

    def has_adapter(self, key: str) -> bool:
        return key in self._adapters

    def add_adapter(self, key: str, path: str | Path | None = None, **_: Any) -> None:
        """Address adapter `key` by that name upstream (it must serve it under that name)."""
        self._adapters[key] = key

    def add_version(self, version: Any, *, key: str | None = None) -> str:
        """Register a version under `key` (default: its ref); upstream it is addressed by its
        ref, the name vLLM's `--lora-modules ref=path` serves it under."""
        key = key or str(version.ref)
        self._adapters[key] = str(version.ref)
        return key

    # -- generating ------------------------------------------------------------------------------

    def _body(self, request: GenerationRequest, *, stream: bool) -> dict[str, Any]:
        if request.messages is None:
            messages = [{"role": "user", "content": request.prompt or ""}]
        else:
            messages = [dict(m) for m in request.messages]
        body: dict[str, Any] = {
            "model": self._adapters.get(request.adapter, request.adapter)
            if request.adapter
            else self.base_model_name,
            "messages": messages,
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if request.repetition_penalty != 1.0:
            # Not in OpenAI's own API; vLLM and `tailor serve` take it. (no_repeat_ngram_size
            # has no counterpart upstream and is not sent.)
            body["repetition_penalty"] = request.repetition_penalty
        if request.stop:
            body["stop"] = list(request.stop)
        return body

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        reason = ""
        for attempt in range(self.retries + 1):
            wait = min(10.0, 0.25 * 2**attempt) * (0.5 + random.random())
            try:
                answer = self._http.post(f"{self.base_url}/chat/completions", json=body)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if answer.status_code < 400:
                    return answer
                reason = f"HTTP {answer.status_code}: {answer.text[:300]}"
                if answer.status_code != 429 and answer.status_code < 500:
                    break  # the request itself is wrong: asking again will not help
                retry_after = answer.headers.get("retry-after", "")
                if retry_after.isdigit():
                    wait = max(wait, float(retry_after))
            if attempt < self.retries:
                time.sleep(wait)
        raise ModelError(f"The upstream model server at {self.base_url} failed: {reason}")

    def generate_one(self, request: GenerationRequest) -> GenerationResult:
        started = time.perf_counter()
        reply = self._post(self._body(request, stream=False)).json()
        try:
            choice = reply["choices"][0]
            usage = reply.get("usage") or {}
            return GenerationResult(
                text=choice["message"]["content"] or "",
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
                finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
                adapter=request.adapter,
                seconds=time.perf_counter() - started,
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ModelError(
                f"The upstream model server at {self.base_url} answered in an unknown shape: "
                f"{str(reply)[:300]}"
            ) from exc

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        return [self.generate_one(request) for request in requests]

    def prompt_tokens(self, request: GenerationRequest) -> int:
        if self.tokenizer is None:
            return 0
        text = "\n".join(m["content"] for m in (request.messages or []))
        return len(self.tokenizer.encode(text or request.prompt or ""))

    def stream(self, request: GenerationRequest) -> TextStream:
        """Text pieces from the upstream's server-sent events; the last chunks' finish reason
        and usage (where the server sends them) end up on the stream."""
        body = self._body(request, stream=True)
        out = TextStream()

        def pieces() -> Iterator[str]:
            with self._http.stream(
                "POST", f"{self.base_url}/chat/completions", json=body
            ) as answer:
                if answer.status_code >= 400:
                    answer.read()
                    raise ModelError(
                        f"The upstream model server at {self.base_url} failed: HTTP "
                        f"{answer.status_code}: {answer.text[:300]}"
                    )
                for line in answer.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    data = line.removeprefix("data: ").strip()
                    if data == "[DONE]":
                        return
                    chunk = json.loads(data)
                    usage = chunk.get("usage") or {}
                    if usage.get("completion_tokens") is not None:
                        out.completion_tokens = int(usage["completion_tokens"])
                    for choice in chunk.get("choices") or []:
                        finish = choice.get("finish_reason")
                        if finish:
                            out.finish_reason = "length" if finish == "length" else "stop"
                        content = (choice.get("delta") or {}).get("content")
                        if content:
                            yield content

        return out.attach(pieces())

    def close(self) -> None:
        self._http.close()
