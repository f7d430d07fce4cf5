"""Retrieval of a user's own examples: BM25 and MiniLM embeddings, and user isolation."""

from __future__ import annotations

import math

import pytest

from tailorai.errors import ConfigError
from tailorai.prompting import (
    BM25Retriever,
    EmbeddingRetriever,
    HistoryRetriever,
    Retriever,
    load_sentence_model,
)
from tailorai.prompting.bm25 import tokenize
from tailorai.records import Example, Message
from tests.prompting.conftest import example


@pytest.fixture(scope="session")
def minilm():
    """The real all-MiniLM-L6-v2, loaded once for the whole test session."""
    return load_sentence_model()


@pytest.fixture(params=["bm25", "embeddings"])
def retriever(request, minilm) -> HistoryRetriever:
    return BM25Retriever() if request.param == "bm25" else EmbeddingRetriever(model=minilm)


HISTORY = [
    example("a1", "alice", "My parcel has not arrived yet"),
    example("a2", "alice", "How do I reset my password?"),
    example("a3", "alice", "Can I return shoes that are too small?"),
    example("b1", "bob", "Where is my parcel? It has not arrived"),
    example("b2", "bob", "Parcel tracking number please"),
    example("n1", None, "My parcel has not arrived, where is it?"),
]


def test_tokenize_lowercases_and_drops_stopwords_and_punctuation():
    assert tokenize("Where is MY order?! Order #123") == ["order", "order", "123"]
    assert tokenize("Where is my order", stopwords=()) == ["where", "is", "my", "order"]


def test_bm25_scores_match_the_okapi_formula_by_hand():
    retriever = BM25Retriever().fit([example("1", "u", "parcel late"), example("2", "u", "refund")])
    # N=2, df(parcel)=1, |d1|=2, avgdl=1.5, tf=1, k1=1.5, b=0.75.
    idf = math.log(1 + (2 - 1 + 0.5) / (1 + 0.5))
    expected = idf * 1 * 2.5 / (1 + 1.5 * (1 - 0.75 + 0.75 * 2 / 1.5))
    assert retriever.scores("u", "parcel") == pytest.approx([expected, 0.0])
    assert retriever.scores("u", "Parcel, parcel!") == pytest.approx([expected, 0.0])


def test_bm25_ranks_by_shared_rare_words_term_frequency_and_length():
    docs = [
        example("both", "u", "parcel refund"),
        example("common", "u", "parcel box"),
        example("rare", "u", "refund box"),
        example("long", "u", "parcel box lid tape label"),
        example("none", "u", "password reset"),
        example("other", "u", "parcel label"),
    ]
    retriever = BM25Retriever().fit(docs)
    # Both words beat one; the rarer word ("refund", 2 docs) beats the common one ("parcel", 4);
    # among one-"parcel" docs the shorter wins; a doc with no query word comes last.
    ranked = [e.id for e in retriever.search("u", "a refund for my parcel", k=6)]
    assert ranked[:2] == ["both", "rare"]
    assert ranked.index("common") < ranked.index("long")
    assert ranked[-1] == "none"
    # Term frequency counts, with saturation: twice the word scores more, not twice as much.
    tf = BM25Retriever().fit(
        [example("one", "u", "parcel x"), example("two", "u", "parcel parcel")]
    )
    one, two = tf.scores("u", "parcel")
    assert one < two < 2 * one


@pytest.mark.parametrize(("k1", "b"), [(-1, 0.75), (1.5, 1.5), (1.5, -0.1), ("1", 0.5)])
def test_bm25_parameters_are_checked(k1, b):
    with pytest.raises(ConfigError, match="parameter of BM25Retriever must be"):
        BM25Retriever(k1=k1, b=b)


def test_embeddings_rank_a_paraphrase_above_unrelated_texts(minilm):
    history = [
        example("sofa", "u", "What colours does the corner sofa come in?"),
        example("parcel", "u", "My parcel still hasn't turned up"),
        example("login", "u", "I can't sign in to my account"),
    ]
    retriever = EmbeddingRetriever(model=minilm).fit(history)
    query = "My package never arrived"
    assert [e.id for e in retriever.search("u", query, k=3)][:1] == ["parcel"]
    assert [e.id for e in retriever.search("u", "I forgot my password", k=1)] == ["login"]
    sofa, parcel, login = retriever.scores("u", query)
    assert parcel > max(sofa, login) + 0.2  # cosines of unit vectors
    # BM25 sees no shared word and cannot tell: the embeddings are what find the paraphrase.
    assert BM25Retriever().fit(history).scores("u", query) == [0.0, 0.0, 0.0]


def test_embeddings_are_the_same_in_any_batch_size_and_the_model_is_shared(minilm):
    small = EmbeddingRetriever(model=minilm, batch_size=2).fit(HISTORY)
    large = EmbeddingRetriever(model=minilm, batch_size=64).fit(HISTORY)
    assert small.scores("alice", "lost parcel") == pytest.approx(
        large.scores("alice", "lost parcel"), abs=1e-5
    )
    assert EmbeddingRetriever()._encoder() is minilm  # loaded once per process
    with pytest.raises(ConfigError, match="'batch_size' parameter of EmbeddingRetriever"):
        EmbeddingRetriever(batch_size=0)


def test_only_the_users_own_examples_ever_come_back(retriever):
    assert isinstance(retriever, Retriever)
    retriever.fit(HISTORY)
    # Bob's and the anonymous example match the query best, yet Alice only gets her own.
    for query in ("Where is my parcel? It has not arrived", "parcel tracking number"):
        found = retriever.search("alice", query, k=10)
        assert {e.user_id for e in found} == {"alice"}
        assert {e.id for e in found} == {"a1", "a2", "a3"}
        assert [e.id for e in retriever.search("bob", query, k=10)] != []
        assert {e.user_id for e in retriever.search("bob", query, k=10)} == {"bob"}
    # Examples without a user belong to nobody: not even to a request without a user.
    assert retriever.search(None, "My parcel has not arrived", k=10) == []
    assert retriever.search("carol", "My parcel has not arrived", k=10) == []
    assert retriever.history("alice") == HISTORY[:3]
    assert retriever.skipped_ == {"no_user": 1}


def test_the_query_example_itself_is_never_returned(retriever):
    retriever.fit(HISTORY)
    # An earlier example with the same request is the user's history: it comes first.
    found = retriever.search("alice", "  My parcel   has not arrived yet ", k=3)
    assert [e.id for e in found][:1] == ["a1"] and len(found) == 3
    found = retriever.search("alice", "My parcel has not arrived yet", k=3, exclude_ids={"a1"})
    assert "a1" not in [e.id for e in found] and len(found) == 2
    found = retriever.search("alice", "lost parcel", k=3, exclude_ids={"a1", "a3"})
    assert [e.id for e in found] == ["a2"]


def test_k_limits_and_most_similar_comes_first(retriever):
    retriever.fit(HISTORY)
    assert retriever.search("alice", "parcel not arrived", k=0) == []
    assert [e.id for e in retriever.search("alice", "parcel not arrived", k=1)] == ["a1"]
    assert [e.id for e in retriever.search("alice", "return shoes too small", k=2)][:1] == ["a3"]
    with pytest.raises(ConfigError, match=r"'k' parameter .* must be an int >= 0\. Got -1"):
        retriever.search("alice", "x", k=-1)


def test_unusable_examples_are_skipped_and_unfitted_retrievers_say_so(retriever):
    with pytest.raises(ConfigError, match="is not fitted yet"):
        retriever.search("alice", "parcel", k=1)
    no_reply = Example("x1", "alice", "c", [Message("user", "hello?")], "test")
    no_prompt = Example("x2", "alice", "c", [Message("assistant", "Hi there")], "test")
    retriever.fit([*HISTORY, no_reply, no_prompt])
    assert retriever.skipped_ == {"no_user": 1, "no_prompt_or_reply": 2}
    assert {e.id for e in retriever.search("alice", "hello?", k=10)} == {"a1", "a2", "a3"}


def test_retrieved_examples_go_after_the_system_prompt_and_before_the_conversation():
    from tailorai.prompting import with_examples

    shots = [("Q1", "A1"), ("Q2", "A2")]
    chat = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]
    system = [{"role": "system", "content": "S"}, *chat]
    roles = [(m["role"], m["content"]) for m in with_examples(system, shots)]
    assert roles == [
        ("system", "S"),
        ("user", "Q1"),
        ("assistant", "A1"),
        ("user", "Q2"),
        ("assistant", "A2"),
        ("user", "Q"),
        ("assistant", "A"),
    ]
    assert (
        with_examples(chat, [])[0] == chat[0] and with_examples(chat, shots)[0]["content"] == "Q1"
    )
