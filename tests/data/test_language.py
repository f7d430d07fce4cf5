from __future__ import annotations

import pytest

from tailorai.data.language import Language
from tailorai.errors import ConfigError
from tests.data.helpers import conv

ENGLISH = conv("Hello, how can I cancel my order please?", "I can help you cancel it.")
SPANISH = conv("Hola, ¿cómo puedo cancelar mi pedido?", "Puedo ayudarte a cancelarlo.")
GERMAN = conv("Guten Tag, ich möchte meine Bestellung stornieren.", "Gerne helfe ich Ihnen.")
EMOJI = conv("👍", "🙂")


@pytest.mark.parametrize("detector", ["fasttext", "lingua"])
def test_keeps_only_the_configured_languages(detector):
    step = Language(["en", "es"], detector)
    records = [ENGLISH, SPANISH, GERMAN, EMOJI]
    kept = list(step.run(records))
    codes = [r.meta["language"] for r in kept]
    assert codes[:2] == ["en", "es"]
    assert "und" in codes  # nothing to tell by: kept
    if detector == "fasttext":  # lingua only knows the configured languages
        assert step.dropped == {"language:de": 1}
        assert step.languages_seen == {"en": 1, "es": 1, "de": 1, "und": 1}


def test_without_languages_everything_is_kept_and_counted():
    step = Language()
    kept = list(step.run([ENGLISH, GERMAN]))
    assert len(kept) == 2
    assert step.languages_seen == {"en": 1, "de": 1}


def test_bad_parameters_are_clear():
    with pytest.raises(ConfigError, match="'detector' parameter of Language"):
        Language(detector="cld3")
    with pytest.raises(ConfigError, match="needs --languages"):
        Language(detector="lingua")
