"""Machine translation behind one small protocol, for back-translation.

`ApertiumTranslator` runs Debian's rule-based Apertium locally (fast, offline, low quality);
`OpenAICompatibleTranslator` asks any server that speaks the OpenAI chat API (better, slower).
Languages are ISO 639 codes ("en", "es"; three-letter codes work too).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from tailorai.errors import DataError, MissingDependency

__all__ = ["APERTIUM_INSTALL", "ApertiumTranslator", "OpenAICompatibleTranslator", "Translator"]

APERTIUM_INSTALL = "apt-get install -y apertium apertium-eng-spa"
_ISO3 = {"en": "eng", "es": "spa", "fr": "fra", "de": "deu", "it": "ita", "pt": "por", "ca": "cat"}
_NAMES = {"eng": "English", "spa": "Spanish", "fra": "French", "deu": "German"}
_NAMES |= {"ita": "Italian", "por": "Portuguese", "cat": "Catalan"}
# Apertium prefixes words it could not handle: * unknown, # generation error, @ transfer error.
# Only marks glued to the start of a word are stripped, so "#37777" and "a@b.com" survive.
_MARK = re.compile(r"(?<![\w#@*])[*#@](?=[^\W\d_])")


class Translator(Protocol):
    """Translates each line; returns exactly one line per input line, in order."""

    def translate(self, lines: list[str], source: str, target: str) -> list[str]: ...


def _iso3(code: str) -> str:
    return _ISO3.get(code.lower(), code.lower())


class ApertiumTranslator:
    """Apertium through its command line, many lines per call (one call costs ~0.3 s).

    Example: `ApertiumTranslator().translate(["I want a refund"], "en", "es")`.
    """

    def __init__(self, *, binary: str = "apertium", batch_size: int = 2000, timeout: float = 300):
        path = shutil.which(binary)
        if path is None:
            raise MissingDependency(f"Apertium ('{binary}' is not on PATH)", APERTIUM_INSTALL)
        self.binary = path
        self.batch_size = batch_size
        self.timeout = timeout
        self._modes: set[str] | None = None

    def modes(self) -> set[str]:
        """The language pairs installed, e.g. {"eng-spa", "spa-eng"}."""
        if self._modes is None:
            listed = self._run(["-l"], "")
            self._modes = {line.strip() for line in listed.splitlines() if line.strip()}
        return self._modes

    def translate(self, lines: list[str], source: str, target: str) -> list[str]:
        mode = f"{_iso3(source)}-{_iso3(target)}"
        if mode not in self.modes():
            raise MissingDependency(
                f"The Apertium language pair '{mode}' (installed: {sorted(self.modes())})",
                f"apt-get install -y apertium-{mode}",
            )
        out: list[str] = []
        for i in range(0, len(lines), self.batch_size):
            # One line in, one line out: newlines inside a line would shift every later line.
            batch = [" ".join(line.split()) for line in lines[i : i + self.batch_size]]
            result = self._run(["-u", mode], "\n".join(batch) + "\n").split("\n")[: len(batch)]
            if len(result) != len(batch):
                raise DataError(
                    f"Apertium returned {len(result)} lines for {len(batch)}: "
                    "the input may hold characters it treats as formatting."
                )
            out += [" ".join(_MARK.sub("", line).split()) for line in result]
        return out

    def _run(self, args: list[str], text: str) -> str:
        try:
            done = subprocess.run(
                [self.binary, *args],
                input=text,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=True,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            stderr = getattr(exc, "stderr", "") or ""
            raise DataError(f"Apertium failed ({' '.join(args)}): {exc} {stderr}".strip()) from exc
        return done.stdout


class OpenAICompatibleTranslator:
    """Translation by a chat model behind `POST {base_url}/v1/chat/completions`.

    One request per line, `workers` at a time; timeouts, 429 and 5xx answers are retried
    `retries` times with exponential backoff. `base_url` may end in `/v1` or not.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        workers: int = 4,
    ) -> None:
        root = base_url.rstrip("/")
        self.url = root + ("/chat/completions" if root.endswith("/v1") else "/v1/chat/completions")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.workers = workers

    def translate(self, lines: list[str], source: str, target: str) -> list[str]:
        src, tgt = (_NAMES.get(_iso3(c), c) for c in (source, target))
        system = (
            f"Translate the user's message from {src} to {tgt}. Reply with the translation "
            "only. Copy tokens such as ZQX0Z, numbers and codes unchanged."
        )
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(lambda line: self._ask(system, line), lines))

    def _ask(self, system: str, line: str) -> str:
        if not line.strip():
            return line
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": line}],
        }
        reply = self._post(body)
        try:
            return " ".join(str(reply["choices"][0]["message"]["content"]).split())
        except (KeyError, IndexError, TypeError) as exc:
            raise DataError(f"Unexpected answer from {self.url}: {str(reply)[:200]}") from exc

    def _post(self, body: dict[str, Any]) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode()
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.load(response)
            except urllib.error.HTTPError as exc:
                # Other client errors (bad key, unknown model) will not get better on retry.
                if (exc.code != 429 and exc.code < 500) or attempt == self.retries:
                    detail = exc.read().decode(errors="replace")[:200]
                    raise DataError(f"{self.url} answered {exc.code}: {detail}") from exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.retries:
                    raise DataError(
                        f"Could not reach {self.url} after {attempt + 1} tries: {exc}"
                    ) from exc
            except json.JSONDecodeError as exc:
                raise DataError(f"{self.url} did not answer JSON: {exc}") from exc
            time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")
