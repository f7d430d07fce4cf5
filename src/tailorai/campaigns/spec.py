"""A campaign: the content blocks an email may hold, who may get each, and the prompts that
write them, from one YAML file.

    name: movie_night                   # required: letters, digits, '_' or '-'
    subject: "Your week at {brand}"     # placeholders: the context below and `defaults:`
    policy: thompson                    # thompson (default), epsilon_greedy or fixed
    epsilon: 0.1                        # epsilon_greedy only
    slots: 3                            # blocks per email
    task: email_block                   # the prompt templates' task that writes the copy
    max_tokens: 60                      # tokens of copy per block at most
    defaults: {brand: Cinema Club}
    blocks:                             # in the order a fixed campaign shows them
      recommendations:
        title: Picked for you           # the block's heading
        prompt: "Recommend {top_category} films to this reader in two sentences."
        link: https://example.com/picks
        categories: [Drama, Comedy]     # what the block is about (affinity with the user's)
        eligible:                       # who may get it (all given rules must hold)
          segments: [power users]       #   in one of these segments
          categories: [Drama]           #   one of these among their top categories
          features:                     #   numeric features within bounds (inclusive)
            events: {min: 5}
            purchases: {max: 0}

A prompt's placeholders are filled from the user's context: `user_id`, `segment`,
`top_category`, `top_categories`, `engagement` (rounded), the block's `title`, then `defaults`.
Any mistake is one `ConfigError` naming the file, the line and the field.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tailorai.errors import ConfigError
from tailorai.segments.features import NUMERIC_FEATURES

__all__ = [
    "EXAMPLES",
    "POLICIES",
    "Block",
    "Campaign",
    "Eligibility",
    "campaign_files",
    "find_campaign",
    "load_campaign",
]

EXAMPLES = Path(__file__).with_name("examples")

POLICIES = ("thompson", "epsilon_greedy", "fixed")
FEATURES = NUMERIC_FEATURES  # what eligibility may test
CONTEXT = ("user_id", "segment", "top_category", "top_categories", "engagement", "title")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
_TOP = {
    "name",
    "description",
    "subject",
    "policy",
    "epsilon",
    "slots",
    "task",
    "max_tokens",
    "defaults",
    "blocks",
}
_BLOCK = {"title", "prompt", "link", "categories", "eligible", "description"}
_ELIGIBLE = {"segments", "categories", "features"}
_BOUNDS = {"min", "max"}


@dataclass(frozen=True, slots=True)
class Eligibility:
    segments: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    features: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # name: (lo, hi)

    def allows(self, segment: str | None, features: Mapping[str, Any]) -> bool:
        if self.segments and segment not in self.segments:
            return False
        if self.categories and not set(self.categories) & set(features.get("top_categories", ())):
            return False
        for name, (low, high) in self.features.items():
            value = float(features.get(name, 0.0))
            if not low <= value <= high:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Block:
    name: str
    title: str
    prompt: str
    link: str
    categories: tuple[str, ...] = ()
    eligible: Eligibility = field(default_factory=Eligibility)


@dataclass(frozen=True, slots=True)
class Campaign:
    name: str
    subject: str
    blocks: tuple[Block, ...]
    policy: str = "thompson"
    epsilon: float = 0.1
    slots: int = 3
    task: str = "email_block"
    max_tokens: int = 60
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    source: str = "<string>"

    def block(self, name: str) -> Block:
        for block in self.blocks:
            if block.name == name:
                return block
        raise KeyError(name)

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "<string>") -> Campaign:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = f", line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(
                f"Campaign {source}{line}: not valid YAML ({exc.problem or exc}). Fix the "
                "syntax there; a campaign is a mapping of `name`, `subject` and `blocks`."
            ) from exc
        return _Reader(source).campaign(root)


def load_campaign(path: str | Path) -> Campaign:
    """Read and check the campaign file at `path`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Could not read the campaign file {path}: {getattr(exc, 'strerror', None) or exc}. "
            "Pass an existing YAML file (see `tailorai/campaigns/examples/`)."
        ) from exc
    return Campaign.from_yaml(text, source=str(path))


def campaign_files(home: Path | None) -> dict[str, Path]:
    """The campaigns the server knows, by name: `<home>/campaigns/NAME.yaml` (or `.yml`), then
    the shipped examples under names not taken."""
    found: dict[str, Path] = {}
    for folder in ([home / "campaigns"] if home is not None else []) + [EXAMPLES]:
        if folder.is_dir():
            for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
                found.setdefault(path.stem, path)
    return found


def find_campaign(name: str, home: Path | None) -> Campaign | None:
    """The campaign named `name` (its file's stem), or None when there is none."""
    path = campaign_files(home).get(name)
    if path is None:
        return None
    campaign = load_campaign(path)
    if campaign.name != name:
        raise ConfigError(
            f"Campaign file {path} is named {campaign.name!r} inside; name the file after the "
            f"campaign ({campaign.name}.yaml) or set `name: {name}`."
        )
    return campaign


class _Reader:
    """Walks the composed YAML nodes, so every error can name its line and field."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._constructor = yaml.SafeLoader("")

    def fail(self, node: yaml.Node, key: str, problem: str) -> ConfigError:
        return ConfigError(
            f"Campaign {self.source}, line {node.start_mark.line + 1}, field `{key}`: {problem}"
        )

    def mapping(self, node: yaml.Node, key: str, allowed: set[str] | None) -> dict[str, Any]:
        """{name: (key node, value node)} of a mapping node, checked."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, key, f"must be a mapping, got {self._kind(node)}.")
        items: dict[str, Any] = {}
        for key_node, value_node in node.value:
            name = str(self.value(key_node))
            where = f"{key}.{name}" if key else name
            if allowed is not None and name not in allowed:
                raise self.fail(
                    key_node, where, f"unknown field; known: {', '.join(sorted(allowed))}."
                )
            if name in items:
                raise self.fail(key_node, where, "is given twice; keep one.")
            items[name] = (key_node, value_node)
        return items

    def value(self, node: yaml.Node) -> Any:
        return self._constructor.construct_object(node, deep=True)

    def text(self, node: yaml.Node, key: str, *, allow: tuple[str, ...] = ()) -> str:
        value = self.value(node)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(node, key, f"must be a non-empty string, got {value!r}.")
        if allow:
            try:
                names = [n for _, n, _, _ in string.Formatter().parse(value) if n is not None]
            except ValueError as exc:
                raise self.fail(node, key, f"is not a valid template ({exc}).") from exc
            unknown = [n for n in names if n not in allow]
            if unknown:
                raise self.fail(
                    node,
                    key,
                    f"unknown placeholder {{{unknown[0]}}}; known: "
                    f"{', '.join('{' + n + '}' for n in allow)} (add others under `defaults:`).",
                )
        return value.strip()

    def names(self, node: yaml.Node, key: str) -> tuple[str, ...]:
        value = self.value(node)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(node, key, f"must be a list of names, got {value!r}.")
        return tuple(value)

    def number(self, node: yaml.Node, key: str, low: float, high: float, kind: type) -> Any:
        value = self.value(node)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if kind is int:
            ok = ok and isinstance(value, int)
        if not ok or not math.isfinite(value) or not low <= value <= high:
            wanted = "a whole number" if kind is int else "a number"
            raise self.fail(node, key, f"must be {wanted} from {low} to {high}, got {value!r}.")
        return value

    @staticmethod
    def _kind(node: yaml.Node) -> str:
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        if isinstance(node, yaml.ScalarNode):
            return f"the value {node.value!r}" if node.value else "nothing"
        return "a mapping"

    def campaign(self, root: yaml.Node | None) -> Campaign:
        if root is None:
            raise ConfigError(f"Campaign {self.source} is empty; see tailorai/campaigns/examples/.")
        top = self.mapping(root, "", _TOP)
        for required in ("name", "subject", "blocks"):
            if required not in top:
                raise self.fail(root, required, "is missing; every campaign needs it.")
        name_node = top["name"][1]
        name = self.text(name_node, "name")
        if not _NAME.fullmatch(name):
            raise self.fail(
                name_node, "name", f"{name!r}: use letters, digits, '_' or '-' (it goes in URLs)."
            )
        defaults: dict[str, Any] = {}
        if "defaults" in top:
            for key, (key_node, value_node) in self.mapping(
                top["defaults"][1], "defaults", None
            ).items():
                if not key.isidentifier():
                    raise self.fail(key_node, f"defaults.{key}", "must be a plain name.")
                defaults[key] = self.value(value_node)
        allowed = (*CONTEXT, *defaults)
        options: dict[str, Any] = {}
        if "policy" in top:
            policy = self.text(top["policy"][1], "policy")
            if policy not in POLICIES:
                raise self.fail(
                    top["policy"][1], "policy", f"{policy!r}; choose one of {', '.join(POLICIES)}."
                )
            options["policy"] = policy
        if "epsilon" in top:
            options["epsilon"] = float(self.number(top["epsilon"][1], "epsilon", 0.0, 1.0, float))
        if "slots" in top:
            options["slots"] = self.number(top["slots"][1], "slots", 1, 20, int)
        if "max_tokens" in top:
            options["max_tokens"] = self.number(top["max_tokens"][1], "max_tokens", 1, 2048, int)
        if "task" in top:
            options["task"] = self.text(top["task"][1], "task")
        if "description" in top:
            options["description"] = self.text(top["description"][1], "description")
        blocks_node = top["blocks"][1]
        blocks = [
            self.block(block_name, value_node, allowed)
            for block_name, (_, value_node) in self.mapping(blocks_node, "blocks", None).items()
        ]
        if len(blocks) < 2:
            raise self.fail(
                blocks_node, "blocks", "needs at least two blocks, or there is nothing to rank."
            )
        return Campaign(
            name=name,
            subject=self.text(top["subject"][1], "subject", allow=allowed),
            blocks=tuple(blocks),
            defaults=defaults,
            source=self.source,
            **options,
        )

    def block(self, name: str, node: yaml.Node, allowed: tuple[str, ...]) -> Block:
        key = f"blocks.{name}"
        if not _NAME.fullmatch(name):
            raise self.fail(node, key, "block names use letters, digits, '_' or '-'.")
        fields_ = self.mapping(node, key, _BLOCK)
        for required in ("title", "prompt", "link"):
            if required not in fields_:
                raise self.fail(node, f"{key}.{required}", "is missing; every block needs it.")
        link_node = fields_["link"][1]
        link = self.text(link_node, f"{key}.link")
        if not link.startswith(("https://", "http://")):
            raise self.fail(link_node, f"{key}.link", f"{link!r} must be an http(s) URL.")
        return Block(
            name=name,
            title=self.text(fields_["title"][1], f"{key}.title", allow=allowed),
            prompt=self.text(fields_["prompt"][1], f"{key}.prompt", allow=allowed),
            link=link,
            categories=(
                self.names(fields_["categories"][1], f"{key}.categories")
                if "categories" in fields_
                else ()
            ),
            eligible=(
                self.eligibility(fields_["eligible"][1], f"{key}.eligible")
                if "eligible" in fields_
                else Eligibility()
            ),
        )

    def eligibility(self, node: yaml.Node, key: str) -> Eligibility:
        rules = self.mapping(node, key, _ELIGIBLE)
        bounds: dict[str, tuple[float, float]] = {}
        if "features" in rules:
            features = self.mapping(rules["features"][1], f"{key}.features", None)
            for feature, (feature_key, value_node) in features.items():
                where = f"{key}.features.{feature}"
                if feature not in FEATURES:
                    raise self.fail(
                        feature_key, where, f"unknown feature; known: {', '.join(FEATURES)}."
                    )
                limits = self.mapping(value_node, where, _BOUNDS)
                if not limits:
                    raise self.fail(value_node, where, "give `min:`, `max:` or both.")
                low = (
                    self.number(limits["min"][1], f"{where}.min", -1e12, 1e12, float)
                    if "min" in limits
                    else -math.inf
                )
                high = (
                    self.number(limits["max"][1], f"{where}.max", -1e12, 1e12, float)
                    if "max" in limits
                    else math.inf
                )
                if low > high:
                    raise self.fail(value_node, where, f"min {low} is above max {high}.")
                bounds[feature] = (float(low), float(high))
        return Eligibility(
            segments=self.names(rules["segments"][1], f"{key}.segments")
            if "segments" in rules
            else (),
            categories=self.names(rules["categories"][1], f"{key}.categories")
            if "categories" in rules
            else (),
            features=bounds,
        )
