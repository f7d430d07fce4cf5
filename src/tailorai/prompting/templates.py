"""Prompt templates: a system prompt per task and per segment, from a versioned YAML file.

The file (the shipped one is `default_templates.yaml` beside this module)::

    version: 1                      # required: a positive int or a string such as "2025-06-01"
    defaults:                       # optional: values for placeholders the inputs leave out
      brand: our store
    tasks:
      chat_reply:
        request: "{message}"        # optional: the user's turn; "{message}" when absent
        cues: system                # optional: where the context cues go, `system` (the
                                    # default) or `request` (after the user's turn)
        segments:
          default:                  # required in every task: used for any segment not listed
            system: You are the support assistant of {brand}. ...
          buyers:
            system: ...

Placeholders are `{name}` (a Python identifier); `{{` and `}}` stand for literal braces. Every
template's `version` is the file's declared version plus a hash of that template's own text, so
editing one prompt changes its version even when nobody bumps the file's `version:`.

A segment named `lapsed` is the template for users whose features say they have lapsed (see
`prompting.cues.is_lapsed`), whatever segment they are in: content for them is about coming back.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tailorai.errors import ConfigError

__all__ = ["DEFAULT_SEGMENT", "DEFAULT_TEMPLATES", "LAPSED_SEGMENT", "Template", "TemplateSet"]

DEFAULT_TEMPLATES = Path(__file__).with_name("default_templates.yaml")
DEFAULT_SEGMENT = "default"
DEFAULT_REQUEST = "{message}"

_TOP_KEYS = {"version", "description", "defaults", "tasks"}
_TASK_KEYS = {"description", "request", "cues", "segments"}
CUE_PLACES = ("system", "request")
LAPSED_SEGMENT = "lapsed"
_SEGMENT_KEYS = {"description", "system"}
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _placeholders(text: str, where: str) -> tuple[str, ...]:
    """The `{name}` placeholders of a template, checked to be plain names."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise ConfigError(
            f"{where} is not a valid template: {exc}. Write placeholders as {{name}} and "
            "literal braces as {{{{ and }}}}."
        ) from exc
    for name in fields:
        if not _IDENTIFIER.fullmatch(name):
            raise ConfigError(
                f"{where} has placeholder {{{name}}}; placeholders must be plain names such as "
                "{brand} (no positions, attributes or indexes)."
            )
    return tuple(dict.fromkeys(fields))


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True, slots=True)
class Template:
    """The prompts of one task for one segment.

    `text` is the system prompt and `request` the user's turn, both with `{name}` placeholders;
    `cues` says where the context cues go (`system` or `request`); `version` is
    `<file version>+<hash of both texts and the cues' place>`.
    """

    task: str
    segment: str
    text: str
    request: str
    version: str
    defaults: Mapping[str, Any]
    cues: str = "system"

    @property
    def placeholders(self) -> tuple[str, ...]:
        where = f"Template {self.task}/{self.segment}"
        return tuple(
            dict.fromkeys(_placeholders(self.text, where) + _placeholders(self.request, where))
        )

    def system(self, inputs: Mapping[str, Any]) -> str:
        """The system prompt with its placeholders filled from `inputs` (then `defaults`)."""
        return self._fill(self.text, inputs)

    def user(self, inputs: Mapping[str, Any]) -> str:
        """The user's turn with its placeholders filled from `inputs` (then `defaults`)."""
        return self._fill(self.request, inputs)

    def _fill(self, text: str, inputs: Mapping[str, Any]) -> str:
        values = {**self.defaults, **inputs}
        where = f"Template {self.task}/{self.segment}"
        missing = [n for n in _placeholders(text, where) if n not in values]
        if missing:
            raise ConfigError(
                f"Template {self.task}/{self.segment} (version {self.version}) needs input "
                f"{', '.join(repr(n) for n in missing)}, which was not given. Given inputs: "
                f"{sorted(inputs)}. Pass it in `inputs` or set it under `defaults:` in the "
                "templates file."
            )
        return text.format_map({name: _show(value) for name, value in values.items()})


@dataclass(frozen=True, slots=True)
class TemplateSet:
    """Every task's templates from one file; `get(task, segment)` picks one.

    >>> TemplateSet.load().get("chat_reply", "buyers").version  # doctest: +SKIP
    '1+5d41402abc4b'
    """

    version: str
    hash: str
    source: str
    defaults: Mapping[str, Any]
    tasks: Mapping[str, Mapping[str, Template]]

    @classmethod
    def load(cls, path: str | Path | None = None) -> TemplateSet:
        """Read and validate a templates file; the shipped default when `path` is None."""
        path = Path(path) if path is not None else DEFAULT_TEMPLATES
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"Could not read the templates file {path}: {exc.strerror or exc}. Pass an "
                "existing YAML file, or None for the shipped default."
            ) from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"Templates file {path} is not valid YAML: {exc}") from exc
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: Any, *, source: str = "<dict>") -> TemplateSet:
        """Validate parsed templates; `source` names them in error messages."""

        def fail(key: str, problem: str) -> ConfigError:
            return ConfigError(f"Templates file {source}, key `{key}`: {problem}")

        def mapping(value: Any, key: str, allowed: set[str] | None) -> dict[str, Any]:
            if value is None:
                raise fail(key, "is missing or empty; it must be a mapping.")
            if not isinstance(value, dict):
                raise fail(key, f"must be a mapping, got {type(value).__name__}.")
            if allowed is not None:
                unknown = sorted(str(k) for k in value.keys() - allowed)
                if unknown:
                    raise fail(key, f"unknown keys {unknown}; allowed keys are {sorted(allowed)}.")
            return value

        def text(value: Any, key: str) -> str:
            if not isinstance(value, str) or not value.strip():
                raise fail(key, f"must be a non-empty string, got {value!r}.")
            _placeholders(value, f"Templates file {source}, key `{key}`,")
            return value.strip()

        top = mapping(raw, "<top level>", _TOP_KEYS)
        if "version" not in top:
            raise fail("version", "is missing; add e.g. `version: 1` at the top of the file.")
        version = top["version"]
        if isinstance(version, bool) or not (
            (isinstance(version, int) and version > 0)
            or (isinstance(version, str) and _VERSION.fullmatch(version))
        ):
            hint = ' (quote it: version: "1.2")' if isinstance(version, float) else ""
            raise fail(
                "version",
                f"must be a positive int or a string of letters, digits, '.', '_' or '-', "
                f"got {version!r}{hint}.",
            )
        version = str(version)
        defaults = mapping(top.get("defaults", {}), "defaults", None)
        for name in defaults:
            if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
                raise fail(f"defaults.{name}", "placeholder names must be plain names.")
        tasks_raw = mapping(top.get("tasks"), "tasks", None)
        if not tasks_raw:
            raise fail("tasks", "is empty; define at least one task.")

        tasks: dict[str, dict[str, Template]] = {}
        for task, task_raw in tasks_raw.items():
            task_spec = mapping(task_raw, f"tasks.{task}", _TASK_KEYS)
            request = text(task_spec.get("request", DEFAULT_REQUEST), f"tasks.{task}.request")
            cues = task_spec.get("cues", "system")
            if cues not in CUE_PLACES:
                raise fail(f"tasks.{task}.cues", f"must be system or request, got {cues!r}.")
            segments_raw = mapping(task_spec.get("segments"), f"tasks.{task}.segments", None)
            if DEFAULT_SEGMENT not in segments_raw:
                raise fail(
                    f"tasks.{task}.segments",
                    f"has no `{DEFAULT_SEGMENT}` segment; add one, it is used for every segment "
                    "not listed.",
                )
            tasks[str(task)] = {}
            for segment, segment_raw in segments_raw.items():
                key = f"tasks.{task}.segments.{segment}"
                segment_spec = mapping(segment_raw, key, _SEGMENT_KEYS)
                if "system" not in segment_spec:
                    raise fail(key, "has no `system` prompt; add `system: <the prompt>`.")
                system = text(segment_spec["system"], f"{key}.system")
                # The defaults a template fills in are part of what the model reads.
                used = _placeholders(system, key) + _placeholders(request, key)
                filled = {n: defaults[n] for n in used if n in defaults}
                shape = [system, request, filled] + ([cues] if cues != "system" else [])
                content = json.dumps(shape, sort_keys=True, default=str)
                digest = hashlib.sha256(content.encode()).hexdigest()[:12]
                tasks[str(task)][str(segment)] = Template(
                    task=str(task),
                    segment=str(segment),
                    text=system,
                    request=request,
                    version=f"{version}+{digest}",
                    defaults=defaults,
                    cues=cues,
                )
        canonical = json.dumps(
            {
                "version": version,
                "defaults": defaults,
                "tasks": {
                    t: {s: [tpl.text, tpl.request, tpl.cues] for s, tpl in segs.items()}
                    for t, segs in tasks.items()
                },
            },
            sort_keys=True,
            default=str,
        )
        return cls(
            version=version,
            hash=hashlib.sha256(canonical.encode()).hexdigest()[:12],
            source=source,
            defaults=defaults,
            tasks=tasks,
        )

    def get(self, task: str, segment: str | None = None) -> Template:
        """The template of `task` for `segment`, or the task's `default` one."""
        if task not in self.tasks:
            raise ConfigError(
                f"Unknown task {task!r} in templates {self.source}. Known tasks: "
                f"{sorted(self.tasks)}; add it under `tasks:` to use it."
            )
        segments = self.tasks[task]
        return segments.get(segment or DEFAULT_SEGMENT, segments[DEFAULT_SEGMENT])

    def has(self, task: str, segment: str) -> bool:
        """Whether `task` has a template of its own for `segment`."""
        return segment in self.tasks.get(task, {})
