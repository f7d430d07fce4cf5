"""`PrepareConfig`: every option of the data pipeline, validated, saved beside each dataset."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from tailorai.config_section import ConfigSection, option
from tailorai.errors import ConfigError

__all__ = ["AUGMENT_METHODS", "EXPORTS", "PrepareConfig"]

AUGMENT_METHODS = ("synonyms", "backtranslate", "templates")
EXPORTS = ("openai",)
PII_MODES = ("placeholder", "pseudonym", "off")


@dataclass
class PrepareConfig(ConfigSection):
    """Options of `tailor data prepare`; also the `data:` section of `tailor.yaml`."""

    yaml_section: ClassVar[str] = "data"

    format: str | None = option("Input format for all inputs; detected per file when unset.")
    columns: dict[str, str] = option(
        "Feedback CSV column mapping, ours → the file's.", factory=dict
    )
    our_addresses: list[str] = option(
        "Email addresses (or @domains) that are the company's side in email threads.", factory=list
    )
    languages: list[str] = option(
        "Keep only these ISO 639-1 languages; all when empty.", factory=list
    )
    language_detector: str = option("'fasttext' (fast, 176 languages) or 'lingua'.", "fasttext")
    dedupe_threshold: float = option(
        "Jaccard similarity at which records are near-duplicates.", 0.8
    )
    pii: str = option(
        "'placeholder' (<PERSON>), 'pseudonym' (consistent fakes) or 'off'.", "placeholder"
    )
    pii_secret: str | None = option(
        "Key for pseudonyms (or TAILOR_PII_SECRET): the same key gives the same fakes across runs."
    )
    min_chars: int = option("Records shorter than this many characters are dropped.", 2)
    max_chars: int = option("Records longer than this many characters are dropped.", 50_000)
    min_rating: float | None = option("Drop feedback rated below this; keep all when unset.")
    context_turns: int = option("Previous turns kept as context in each example.", 6)
    model: str | None = option(
        "Base model whose tokenizer counts tokens; the default model if unset."
    )
    max_tokens: int | None = option(
        "Examples over this many tokens lose old turns or are dropped; the base model's context "
        "length when unset."
    )
    augment: list[str] = option(f"Augmenters to run: {', '.join(AUGMENT_METHODS)}.", factory=list)
    augment_min_similarity: float = option(
        "Augmented prompts less similar than this to the original are rejected.", 0.8
    )
    split_by: str = option(
        "'user' or 'conversation': what never spans train and validation.", "user"
    )
    validation_fraction: float = option("Share of users (or conversations) held out.", 0.1)
    seed: int = option("Seed for the split and the augmenters.", 0)
    export: list[str] = option("Extra formats to write: 'openai' (openai.jsonl).", factory=list)

    def __post_init__(self) -> None:
        def choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
            if value not in allowed:
                raise ConfigError(f"`{name}` must be one of {', '.join(allowed)}, got {value!r}.")

        choice("language_detector", self.language_detector, ("fasttext", "lingua"))
        choice("pii", self.pii, PII_MODES)
        choice("split_by", self.split_by, ("user", "conversation"))
        for method in self.augment:
            choice("augment", method, AUGMENT_METHODS)
        for export in self.export:
            choice("export", export, EXPORTS)
        if not 0.0 < self.dedupe_threshold <= 1.0:
            raise ConfigError(f"`dedupe_threshold` must be in (0, 1], got {self.dedupe_threshold}.")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError(
                f"`validation_fraction` must be in [0, 1), got {self.validation_fraction}."
            )
        if self.context_turns < 0:
            raise ConfigError(f"`context_turns` must be 0 or more, got {self.context_turns}.")
        if self.max_tokens is not None and self.max_tokens <= 0:
            raise ConfigError(f"`max_tokens` must be positive, got {self.max_tokens}.")
        if self.min_chars < 0 or self.max_chars <= self.min_chars:
            raise ConfigError(
                f"`min_chars` and `max_chars` need 0 <= min_chars < max_chars, "
                f"got {self.min_chars} and {self.max_chars}."
            )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("pii_secret")  # a key, not a setting to publish beside the data
        return data
