"""Data augmentation with real WordNet, real Apertium and the real MiniLM model."""

from __future__ import annotations

import copy
import csv
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tailorai.data.augment import (
    METHODS,
    ApertiumTranslator,
    BackTranslator,
    MeaningGate,
    OpenAICompatibleTranslator,
    SynonymReplacer,
    TemplateAugmenter,
    augment,
    build_wordnet,
)
from tailorai.data.augment.wordnet import DEBIAN_WORDNET
from tailorai.errors import ConfigError, DataError, MissingDependency
from tailorai.records import Example, Message

SUPPORT_CSV = (
    Path(__file__).resolve().parents[3]
    / "shared/data/customer_support/Bitext_Sample_Customer_Support_Training_Dataset_4514.csv"
)
NO_WORDNET = "Debian WordNet is absent: apt-get install -y wordnet-base wordnet-sense-index"
NO_APERTIUM = "Apertium is absent: apt-get install -y apertium apertium-eng-spa"
PROMPT = "I want to cancel purchase {{Order Number}} for <PERSON>, can you help me quickly?"


def _rows() -> list[dict[str, str]]:
    with SUPPORT_CSV.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _example(i: int, prompt: str, reply: str, intent: str | None = None) -> Example:
    return Example(
        id=f"ex{i}",
        user_id=f"user{i % 3}",
        conversation_id=f"conv{i}",
        messages=[Message("user", prompt), Message("assistant", reply)],
        source="bitext.csv",
        meta={"intent": intent} if intent else {},
    )


@pytest.fixture(scope="session")
def support_examples() -> list[Example]:
    """30 shipped customer-support examples spread over all intents."""
    rows = _rows()[::150]
    return [_example(i, r["instruction"], r["response"], r["intent"]) for i, r in enumerate(rows)]


@pytest.fixture(scope="session")
def synonyms(tmp_path_factory: pytest.TempPathFactory) -> SynonymReplacer:
    if not (DEBIAN_WORDNET / "data.noun").is_file():
        pytest.skip(NO_WORDNET)
    # Built in a temporary folder, so the tests never write to the user's cache.
    return SynonymReplacer(nltk_data=tmp_path_factory.mktemp("nltk_data"))


@pytest.fixture(scope="session")
def apertium() -> ApertiumTranslator:
    if shutil.which("apertium") is None:
        pytest.skip(NO_APERTIUM)
    translator = ApertiumTranslator()
    if not {"eng-spa", "spa-eng"} <= translator.modes():
        pytest.skip(NO_APERTIUM)
    return translator


@pytest.fixture(scope="session")
def gate() -> MeaningGate:
    return MeaningGate(min_similarity=0.8)


# --- WordNet and synonyms ---------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:The multilingual functions:UserWarning")
def test_build_wordnet_makes_an_nltk_corpus_from_debian(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (DEBIAN_WORDNET / "data.noun").is_file():
        pytest.skip(NO_WORDNET)
    import nltk
    from nltk.corpus.reader import WordNetCorpusReader

    # NLTK only opens corpora under `nltk.data.path`, as `load_wordnet` arranges.
    monkeypatch.setattr(nltk.data, "path", [*nltk.data.path, str(tmp_path)])

    root = build_wordnet(tmp_path)
    lexnames = (root / "lexnames").read_text().splitlines()
    assert len(lexnames) == 45
    assert lexnames[3] == "03\tnoun.Tops\t1" and lexnames[44] == "44\tadj.ppl\t3"
    assert not any(p.is_symlink() for p in root.iterdir())  # NLTK refuses links
    assert build_wordnet(tmp_path) == root  # a second call reuses the copy
    reader = WordNetCorpusReader(str(root), None)
    assert "refund" in {lemma.name() for s in reader.synsets("repay") for lemma in s.lemmas()}


def test_build_wordnet_without_debian_wordnet_names_the_apt_packages(tmp_path: Path) -> None:
    with pytest.raises(MissingDependency, match="apt-get install -y wordnet-base wordnet-sense"):
        build_wordnet(tmp_path / "nltk_data", source=tmp_path / "absent")
    assert not (tmp_path / "nltk_data" / "corpora" / "wordnet").exists()


@pytest.mark.parametrize("use_tagger", [True, False], ids=["spacy-pos", "wordnet-pos"])
def test_synonyms_replace_content_words_and_keep_placeholders(
    synonyms: SynonymReplacer, use_tagger: bool
) -> None:
    replacer = SynonymReplacer(use_tagger=use_tagger, max_words=3)  # WordNet is loaded already
    prompt = "I want to cancel purchase {{Order Number}} for <PERSON>, send it to {{home address}}"
    variants = replacer.variants(prompt, n=6, seed=0)
    assert variants, "no synonym found for any content word"
    original = prompt.split()
    for text in variants:
        assert "{{Order Number}}" in text and "<PERSON>" in text and "{{home address}}" in text
        changed = [a for a, b in zip(original, text.split(), strict=False) if a != b]
        assert changed, text
        # Stopwords stay: only the content words may move.
        assert text.startswith("I ") and {"to", "for", "it"} <= set(text.split())


def test_synonyms_are_deterministic_for_a_seed(
    synonyms: SynonymReplacer, support_examples: list[Example]
) -> None:
    first = synonyms.generate(support_examples, n=2, seed=7)
    assert first == synonyms.generate(support_examples, n=2, seed=7)
    assert first != synonyms.generate(support_examples, n=2, seed=8)
    assert sum(bool(v) for v in first) >= len(support_examples) // 2


# --- back-translation -------------------------------------------------------------------------


def test_apertium_round_trip_paraphrases_and_keeps_placeholders(
    apertium: ApertiumTranslator, gate: MeaningGate
) -> None:
    texts = [PROMPT, "I need help to check my bill #37777 and my e-mail a@b.com"]
    (first,), (second,) = BackTranslator(apertium).round_trip(texts)
    assert first != PROMPT
    assert "{{Order Number}}" in first and "<PERSON>" in first
    assert "#37777" in second and "a@b.com" in second
    assert min(gate.similarities(texts, [first, second])) > 0.6


def test_apertium_strips_unknown_word_marks(apertium: ApertiumTranslator) -> None:
    spanish = apertium.translate(["The sdfsdf went to XYZ", "second line"], "en", "es")
    assert len(spanish) == 2
    assert "sdfsdf" in spanish[0] and not any(c in spanish[0] for c in "*#@")


def test_apertium_absent_names_the_apt_packages() -> None:
    with pytest.raises(MissingDependency, match="apt-get install -y apertium apertium-eng-spa"):
        ApertiumTranslator(binary="no-such-apertium-binary")


# --- OpenAI-compatible translator, against a stub server on 127.0.0.1 ----------------------------


class _StubChat(BaseHTTPRequestHandler):
    """Answers chat completions by word-swapping the user text; fails first if asked to."""

    calls: list[dict[str, Any]]
    fail_first: list[int]  # status codes to answer before succeeding

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        if self.fail_first:
            self.send_response(self.fail_first.pop(0))
            self.end_headers()
            self.wfile.write(b'{"error": "busy"}')
            return
        text = body["messages"][-1]["content"]
        swaps = {"cancel": "anular", "anular": "call off", "order": "pedido", "pedido": "order"}
        content = " ".join(swaps.get(word, word) for word in text.split())
        answer = {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"content": content}}],
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def chat_server() -> Iterator[tuple[str, type[_StubChat]]]:
    handler = type("Handler", (_StubChat,), {"calls": [], "fail_first": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_openai_translator_posts_chat_completions_and_retries(
    chat_server: tuple[str, type[_StubChat]],
) -> None:
    url, handler = chat_server
    handler.fail_first.append(503)
    translator = OpenAICompatibleTranslator(url, "tiny-mt", "secret", backoff=0.01, workers=1)
    assert translator.translate(["cancel my order", "", "hello"], "en", "es") == [
        "anular my pedido",
        "",
        "hello",
    ]
    assert len(handler.calls) == 3  # the 503, then one call per non-empty line
    call = handler.calls[-1]
    assert call["path"] == "/v1/chat/completions" and call["auth"] == "Bearer secret"
    assert call["model"] == "tiny-mt" and "Spanish" in call["messages"][0]["content"]


def test_openai_translator_reports_client_errors_without_retrying(
    chat_server: tuple[str, type[_StubChat]],
) -> None:
    url, handler = chat_server
    handler.fail_first.append(401)
    translator = OpenAICompatibleTranslator(url + "/v1", "tiny-mt", "bad-key", backoff=0.01)
    with pytest.raises(DataError, match="401"):
        translator.translate(["cancel my order"], "en", "es")
    assert len(handler.calls) == 1


def test_back_translation_through_an_openai_server_keeps_placeholders(
    chat_server: tuple[str, type[_StubChat]],
) -> None:
    url, _ = chat_server
    translator = OpenAICompatibleTranslator(url, "tiny-mt", None, backoff=0.01)
    prompt = "please cancel order {{Order Number}} for <PERSON>"
    assert BackTranslator(translator).round_trip([prompt]) == [
        ["please call off order {{Order Number}} for <PERSON>"]
    ]


# --- templates --------------------------------------------------------------------------------


def test_templates_cover_every_shipped_intent() -> None:
    intents = {row["intent"] for row in _rows()}
    assert len(intents) == 27
    assert intents <= TemplateAugmenter().templates.intents.keys()


def test_templates_rephrase_a_known_intent_and_keep_its_entities() -> None:
    templates = TemplateAugmenter()
    prompt = "how can I cancel purchase 113542617735902?"
    variants = templates.variants(prompt, "cancel_order", n=3, seed=0)
    assert len(variants) == 3 and len(set(variants)) == 3 and prompt not in variants
    assert all("113542617735902" in v and "cancel" in v for v in variants)
    gold = templates.variants("delete my Gold account", "delete_account", n=2, seed=0)
    assert gold and all("Gold" in v for v in gold)


def test_templates_give_nothing_for_unknown_intents_or_unkept_details() -> None:
    templates = TemplateAugmenter()
    assert templates.variants("how do I fly a kite?", "fly_kite", n=3) == []
    # "8 months ago" fits no slot: a template would drop it, so none is used.
    assert templates.variants("getting invoice from 8 months ago", "get_invoice", n=3) == []
    no_intent = _example(0, "cancel my order", "Sure.")
    assert templates.generate([no_intent], n=2, seed=0) == [[]]


# --- the meaning gate and the entry point -----------------------------------------------------


def test_meaning_gate_keeps_a_paraphrase_and_rejects_an_unrelated_sentence(
    gate: MeaningGate,
) -> None:
    original = "how can I cancel my order?"
    paraphrase = "what do I have to do to cancel my order?"
    unrelated = "The museum is closed on Mondays during winter."
    assert gate.keep([original, original], [paraphrase, unrelated]) == [True, False]
    with pytest.raises(ConfigError, match="min_similarity"):
        MeaningGate(min_similarity=1.5)


def test_augment_adds_marked_examples_and_leaves_originals_intact(
    synonyms: SynonymReplacer, gate: MeaningGate, support_examples: list[Example]
) -> None:
    multi_turn = Example(
        id="multi",
        user_id="u9",
        conversation_id="c9",
        messages=[
            Message("system", "You are a support agent."),
            Message("user", "hi, I need to cancel order 3707955617"),
            Message("assistant", "Sure, which order?"),
            Message("user", "how can I cancel purchase 3707955617?"),
            Message("assistant", "Go to {{Order History}} and press cancel."),
        ],
        source="chat",
        meta={"intent": "cancel_order"},
    )
    examples = [*support_examples, multi_turn]
    before = copy.deepcopy(examples)
    result = augment(examples, ["synonyms", "templates"], seed=3, per_example=2)
    assert examples == before
    assert result.examples
    by_id = {e.id: e for e in examples}
    for stats in result.stats.values():
        assert stats["generated"] == stats["kept"] + stats["rejected_similarity"]
    assert sum(s["kept"] for s in result.stats.values()) == len(result.examples)
    assert len({e.id for e in result.examples}) == len(result.examples)
    for new in result.examples:
        mark = new.meta["augmented"]
        orig = by_id[mark["of"]]
        assert mark["method"] in ("synonyms", "templates") and mark["similarity"] >= 0.8
        assert new.id.startswith(f"{orig.id}-aug-{mark['method']}-")
        assert (new.user_id, new.conversation_id, new.source) == (
            orig.user_id,
            orig.conversation_id,
            orig.source,
        )
        assert new.meta["intent"] == orig.meta["intent"]
        # Only the last user message changes, and no message object is shared.
        assert new.messages[-2].content != orig.messages[-2].content
        assert [m.as_dict() for m in new.messages[:-2]] == [m.as_dict() for m in orig.messages[:-2]]
        assert new.messages[-1].content == orig.messages[-1].content
        assert not {id(m) for m in new.messages} & {id(m) for m in orig.messages}
    assert any(e.meta["augmented"]["of"] == "multi" for e in result.examples)
    again = augment(examples, "synonyms,templates", seed=3, per_example=2)
    assert [e.as_dict() for e in again.examples] == [e.as_dict() for e in result.examples]


def test_augment_back_translates_with_apertium(
    apertium: ApertiumTranslator, gate: MeaningGate, support_examples: list[Example]
) -> None:
    result = augment(support_examples, ["backtranslate"], translator=apertium)
    stats = result.stats["backtranslate"]
    assert stats["kept"] > 0 and stats["generated"] == stats["kept"] + stats["rejected_similarity"]
    for new in result.examples:
        assert new.id.endswith("-aug-backtranslate-1")
        assert new.meta["augmented"]["similarity"] >= 0.8


def test_augment_rejects_what_falls_under_the_similarity_threshold(
    gate: MeaningGate, support_examples: list[Example]
) -> None:
    result = augment(support_examples, ["templates"], min_similarity=1.0)
    assert result.examples == []
    stats = result.stats["templates"]
    assert stats["generated"] > 0 and stats["rejected_similarity"] == stats["generated"]


@pytest.mark.parametrize("methods", [["synonyms", "paraphrase"], "templates,nope", []])
def test_augment_unknown_method_lists_the_valid_ones(methods: Any) -> None:
    with pytest.raises(ConfigError, match=", ".join(METHODS)):
        augment([_example(0, "cancel my order", "Sure.")], methods)
