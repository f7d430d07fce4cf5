from __future__ import annotations

from tailorai.data.sentences import Sentences, split_sentences
from tests.data.helpers import conv


def test_split_keeps_abbreviations_and_prices_together():
    assert split_sentences("Mr. Smith paid $3.50 for it. Then he left!") == [
        "Mr. Smith paid $3.50 for it.",
        "Then he left!",
    ]


def test_step_fills_every_message():
    record = conv("Hi there. Where is my order?", "It ships today. Thanks for waiting!")
    [out] = Sentences().run([record])
    assert out.messages[0].sentences == ["Hi there.", "Where is my order?"]
    assert len(out.messages[1].sentences) == 2


def test_uses_the_detected_language():
    record = conv("Hola. ¿Dónde está mi pedido?", "Sale hoy.", language="es")
    [out] = Sentences().run([record])
    assert out.messages[0].sentences == ["Hola.", "¿Dónde está mi pedido?"]
