from __future__ import annotations

import pytest

from tailorai.data.config import PrepareConfig
from tailorai.errors import ConfigError


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pii": "mask"}, "`pii` must be one of placeholder, pseudonym, off"),
        ({"augment": ["paraphrase"]}, "`augment` must be one of"),
        ({"export": ["csv"]}, "`export` must be one of openai"),
        ({"dedupe_threshold": 1.5}, "`dedupe_threshold` must be in"),
        ({"validation_fraction": 1.0}, "`validation_fraction` must be in"),
        ({"max_tokens": 0}, "`max_tokens` must be positive"),
        ({"min_chars": 10, "max_chars": 5}, "min_chars"),
        ({"split_by": "day"}, "`split_by` must be one of"),
    ],
)
def test_invalid_options_say_what_and_why(options, message):
    with pytest.raises(ConfigError, match=message):
        PrepareConfig(**options)


def test_yaml_data_section_and_unknown_keys(tmp_path):
    path = tmp_path / "tailor.yaml"
    path.write_text("data:\n  languages: [en, es]\n  context_turns: 2\n")
    config = PrepareConfig.from_yaml(path)
    assert config.languages == ["en", "es"] and config.context_turns == 2
    path.write_text("data:\n  langauges: [en]\n")
    with pytest.raises(ConfigError, match=r"Unknown data option.*langauges"):
        PrepareConfig.from_yaml(path)


def test_every_option_has_help_and_the_secret_is_not_published():
    from dataclasses import fields

    assert all(f.metadata.get("help") for f in fields(PrepareConfig))
    assert "pii_secret" not in PrepareConfig(pii_secret="s3cret").to_dict()
