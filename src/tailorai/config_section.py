"""What the stage configs share: fields that carry their help, and loading from `tailor.yaml`.

A stage's options are a dataclass that mixes in `ConfigSection` and names its section:

    @dataclass
    class PrepareConfig(ConfigSection):
        yaml_section: ClassVar[str] = "data"
        seed: int = option("Seed for the split and the augmenters.", 0)
"""

from __future__ import annotations

from dataclasses import field, fields
from pathlib import Path
from typing import Any, ClassVar, Self

from tailorai.errors import ConfigError

__all__ = ["ConfigSection", "option"]


def option(text: str, default: Any = None, factory: Any = None) -> Any:
    """A dataclass field that documents itself: `text` is its `help` metadata."""
    if factory is not None:
        return field(default_factory=factory, metadata={"help": text})
    return field(default=default, metadata={"help": text})


class ConfigSection:
    """Loading for a dataclass config that is the `yaml_section:` section of `tailor.yaml`."""

    yaml_section: ClassVar[str]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"Unknown {cls.yaml_section} option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}."
            )
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: Path) -> Self:
        """The file's `yaml_section:` section, or the whole file when it has none."""
        from tailorai.settings import load_yaml

        data = load_yaml(path)
        return cls.from_dict(data.get(cls.yaml_section, data))
