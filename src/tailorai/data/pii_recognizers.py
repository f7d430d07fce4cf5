"""Recognizers Presidio lacks: street addresses, lenient phones, name cues, the user's own PII.

Each recognizer is a plain function or small class over one text that returns ``(entity_type,
start, end, score)`` tuples; `tailorai.data.pii.PiiDetector` merges them with Presidio's own
recognizers and spaCy's NER. They are regular expressions plus word lists, so they cost
microseconds per message and never need the NER model to run.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Found",
    "KnownPii",
    "Lexicon",
    "find_addresses",
    "find_names",
    "find_phones",
    "lead_in",
    "needs_ner",
    "ner_triggers",
    "placeholders",
    "unknown_capitalized",
]

Found = tuple[str, int, int, float]  # (entity_type, start, end, score)

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_PLACEHOLDER = re.compile(r"\{\{[^{}\n]{1,60}\}\}")
_LEFT_SKIP = " \t\"'“‘(["
_SENTENCE_END = ".!?:;\n…"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_MONTHS_DAYS_SEASONS = _words(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday spring summer autumn fall winter "
    "christmas easter god lord"
)
# Chat words that name lists also hold ("Hey" is a given name somewhere).
_INTERJECTIONS = _words(
    "hi hey hello hiya yo sup ok okay okie k lol lmao haha hahaha hehe yeah ya yep yup nope nah "
    "bye thanks thanx thx ty pls plz omg wow oh ah aw aww hmm hmmm um uh ugh er gn gm tc ur u r "
    "da la lor dear sir madam aight kay gud wat coz cos jus congrats dont cant wont im ive lemme "
    "gonna wanna mmm mmmm aiyah aiyo"
)


# --- word lists -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Word lists the name and NER-gate heuristics consult.

    `english` is every English word form the spaCy model's lemmatizer knows (WordNet, which also
    lists famous proper nouns), `common` the ones that are plainly not names (stop words, verbs,
    adjectives, adverbs, months), `first_names` the given names of Faker's Latin-script locales,
    `names_and_places` those plus surnames, countries, states and cities, all lower case.
    """

    english: frozenset[str]
    common: frozenset[str]
    stop: frozenset[str]
    first_names: frozenset[str]
    lower_first_names: frozenset[str]
    lower_gate: frozenset[str]
    names_and_places: frozenset[str]

    @classmethod
    def build(cls, lemma_lookups: Any | None, stop_words: Iterable[str]) -> Lexicon:
        stop = frozenset(w.lower() for w in stop_words)
        english: set[str] = set(stop)
        common: set[str] = set(stop) | _MONTHS_DAYS_SEASONS | _INTERJECTIONS
        if lemma_lookups is not None:
            index, exceptions = (
                lemma_lookups.get_table("lemma_index"),
                lemma_lookups.get_table("lemma_exc"),
            )
            for pos in ("noun", "verb", "adj", "adv"):
                words = set(index.get(pos, ())) | set(exceptions.get(pos, {}))
                english |= words
                if pos != "noun":
                    common |= words
        first, surnames, places = _faker_lists()
        # A given name that only one locale lists is often not one ("Canyon", "China").
        given = {n for n, locales in first.items() if locales >= 2} - places - common
        return cls(
            english=frozenset(english),
            common=frozenset(common),
            stop=stop,
            first_names=frozenset(given),
            lower_first_names=frozenset(n for n in given if first[n] >= 3 and n not in english),
            # Worth running NER for in lower case: those, and names most locales share ("john").
            lower_gate=frozenset(
                n for n in given if first[n] >= 3 and (n not in english or first[n] >= 5)
            ),
            names_and_places=frozenset(given | surnames | places),
        )

    def is_common(self, word: str) -> bool:
        """A word that is never taken for a name on its own: 'Will', 'June', 'The'."""
        return word.lower() in self.common

    def is_english(self, word: str) -> bool:
        low = word.lower()
        if low in self.english:
            return True
        # Regular inflections are not in the word lists; strip the usual suffixes.
        for suffix, repl in (
            ("ies", "y"),
            ("es", ""),
            ("s", ""),
            ("ed", ""),
            ("ed", "e"),
            ("ing", ""),
            ("ing", "e"),
            ("ly", ""),
            ("er", ""),
            ("est", ""),
        ):
            if (
                low.endswith(suffix)
                and len(low) > len(suffix) + 2
                and low[: -len(suffix)] + repl in self.english
            ):
                return True
        return False


def _faker_lists() -> tuple[Counter[str], set[str], set[str]]:
    """From Faker's Latin-script locales, lower case: given names with the number of locales
    that list each, surnames, and places (countries, states, cities)."""
    first: Counter[str] = Counter()
    surnames: set[str] = set()
    places: set[str] = set()
    for package, attrs in (
        (
            "faker.providers.person",
            ("first_names", "first_names_male", "first_names_female", "last_names"),
        ),
        ("faker.providers.address", ("countries", "states", "cities")),
    ):
        try:
            root = importlib.import_module(package)
        except ImportError:  # Faker is a dependency; without it the lists are just empty
            break
        for info in pkgutil.iter_modules(root.__path__):
            try:
                provider = importlib.import_module(f"{package}.{info.name}").Provider
            except (ImportError, AttributeError):
                continue
            given: set[str] = set()
            for attr in attrs:
                values = getattr(provider, attr, None)
                if not isinstance(values, Mapping | tuple | list):
                    continue
                words = {v.lower() for v in values if isinstance(v, str) and _latin_word(v)}
                if attr.startswith("first"):
                    given |= words
                elif attr == "last_names":
                    surnames |= words
                else:
                    places |= words
            first.update(given)
    return first, surnames, places


def _latin_word(value: str) -> bool:
    return len(value) > 2 and all(c.isalpha() and ord(c) < 0x250 for c in value)


def placeholders(text: str) -> list[tuple[int, int]]:
    """Customer-support template slots like ``{{Order Number}}``: never personal data."""
    return [m.span() for m in _PLACEHOLDER.finditer(text)] if "{{" in text else []


def _sentence_initial(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in _LEFT_SKIP:
        i -= 1
    return (
        i < 0 or text[i] in _SENTENCE_END or (text[i] in "-*•" and (i == 0 or text[i - 1] in " \n"))
    )


# --- NER gate ---------------------------------------------------------------------------------


def ner_triggers(text: str, lexicon: Lexicon) -> list[tuple[int, int]]:
    """The words that could start a person or place, for spaCy's NER to look at.

    NER is most of the cost of anonymizing, and in chat and support text most messages hold no
    name: only common English words, capitalized at most at the start of a sentence. A trigger
    is a capitalized word that is a known name or place, no English word, or a noun in the middle
    of a sentence ("deliver to Dublin"); or a lower-case word that is a common given name.
    """
    spans: list[tuple[int, int]] = []
    for m in _WORD.finditer(text):
        word = m.group()
        low = _base(word)
        if word in _PLACE_ACRONYMS:
            spans.append(m.span())
        elif len(low) < 2 or low in lexicon.common:
            continue
        elif not word[0].isupper():
            if low in lexicon.lower_gate:
                spans.append(m.span())
        elif (
            low in lexicon.names_and_places
            or not lexicon.is_english(low)
            or (not word.isupper() and not _sentence_initial(text, m.start()))
        ):
            spans.append(m.span())
    if spans and "{{" in text:
        slots = placeholders(text)
        spans = [(s, e) for s, e in spans if not any(a <= s < b for a, b in slots)]
    return spans


def needs_ner(text: str, lexicon: Lexicon) -> bool:
    """Whether spaCy's NER could find a person or place here, judged from the words alone."""
    return bool(ner_triggers(text, lexicon))


_PLACE_ACRONYMS = frozenset({"US", "USA", "UK", "UAE", "EU", "NYC", "LA", "DC"})


# --- person names -----------------------------------------------------------------------------

_TITLE = re.compile(
    r"\b(?:mr|mrs|ms|miss|mx|dr|prof|sir|madam|mme|mlle|herr|frau|señor|señora|sr|sra)\.?[ \t]+"
    r"(?=[^\W\d_])",
    re.IGNORECASE,
)
_STRONG_CUE = re.compile(
    r"""\b(?: (?:my|his|her|their|your|first|last|full|maiden|middle|sur|nick) [\ \t]? name
               (?:[\ \t]+is|'s|[\ \t]*:)?
             | call(?:s|ed)?[\ \t]+me | named | signed
           )[\ \t]+(?=[^\W\d_])""",
    re.IGNORECASE | re.VERBOSE,
)
_WEAK_CUE = re.compile(
    r"""\b(?: this[\ \t]+is | i[\ \t]+am | i'm | it's | dear | hi | hello | hey | thanks
             | thank[\ \t]+you | regards | cheers | love
           ),?[\ \t]+(?=[A-Z])""",
    re.IGNORECASE | re.VERBOSE,
)
_VOCATIVE = re.compile(
    r"""^[\ \t]*([^\W\d_]+),[\ \t]+
        (?=(?:can|could|would|will|please|i|you|do|did|are|is|have|what|where|when|how|why)\b)""",
    re.IGNORECASE | re.VERBOSE,
)


def _name_after(
    text: str, pos: int, lexicon: Lexicon, *, lower_ok: bool, max_words: int = 2
) -> tuple[int, int] | None:
    """The name that starts at `pos`: one to `max_words` words, capitalized unless `lower_ok`."""
    end = pos
    words = 0
    for m in _WORD.finditer(text, pos):
        if m.start() != end and not (words and text[end : m.start()] in (" ", "\t")):
            break
        word = m.group()
        if _base(word) in lexicon.stop or not (word[0].isupper() or lower_ok):
            break
        if not word[0].isupper() and (
            lexicon.is_english(word) and word.lower() not in lexicon.first_names
        ):
            break
        end = m.end()
        words += 1
        if words == max_words:
            break
    return (pos, _strip_possessive(text, pos, end)) if words else None


def _base(word: str) -> str:
    """The word without a clitic, lower case: "I'm" -> "i"."""
    return re.split(r"['’]", word, maxsplit=1)[0].lower()


def _strip_possessive(text: str, start: int, end: int) -> int:
    return end - 2 if text[start:end].endswith(("'s", "’s")) and end - 2 > start else end


def find_names(text: str, lexicon: Lexicon) -> list[Found]:
    """Person names NER misses: after a title or a cue ("my name is"), in a vocative, or known
    given names (with the surname that follows)."""
    found: list[Found] = []
    for m in _TITLE.finditer(text):
        span = _name_after(text, m.end(), lexicon, lower_ok=False)
        if span:
            found.append(("PERSON", *span, 0.6))
    for m in _STRONG_CUE.finditer(text):
        span = _name_after(text, m.end(), lexicon, lower_ok=True)
        if span:
            found.append(("PERSON", *span, 0.6))
    for m in _WEAK_CUE.finditer(text):
        span = _name_after(text, m.end(), lexicon, lower_ok=False)
        if span and _plausible_name(text[span[0] : span[1]].split()[0], lexicon):
            found.append(("PERSON", *span, 0.5))
    m = _VOCATIVE.match(text)
    if (
        m
        and m.group(1)[0].isupper()
        and not lexicon.is_common(m.group(1))
        and not lexicon.is_english(m.group(1))
    ):
        found.append(("PERSON", *m.span(1), 0.5))
    for m in _WORD.finditer(text):
        word = m.group()
        low = word.lower()
        if low not in lexicon.first_names or low in lexicon.stop or word.isupper():
            continue
        if word[0].isupper():
            span = _name_after(text, m.start(), lexicon, lower_ok=False)
            surname = (
                span is not None
                and span[1] > m.end()
                and not lexicon.is_english(text[m.end() : span[1]].strip())
            )
            if not surname and (
                lexicon.is_common(word)
                or (_sentence_initial(text, m.start()) and lexicon.is_english(word))
            ):
                continue
        elif low in lexicon.lower_first_names:  # "kristin", "lilly": common names, no English word
            span = _name_after(text, m.start(), lexicon, lower_ok=True)
        else:
            continue
        if span:
            found.append(("PERSON", *span, 0.5))
    return found


# Words the small model often pulls into a name: "Call Jane", "ok jane", "Thanks Sarah".
_LEAD_INS = _words(
    "call ask tell text email mail message ping contact meet thank thanks hi hey hello dear ok "
    "okay yes no sorry please"
)
_FIRST_WORD = re.compile(r"([^\W\d_]+)[,!]?\s+(?=\S)")


def lead_in(name: str, lexicon: Lexicon) -> int:
    """How many leading characters of an NER name are a lead-in word, not part of the name."""
    m = _FIRST_WORD.match(name)
    if m is None:
        return 0
    word = m.group(1)
    if word.lower() in _LEAD_INS or (word.islower() and lexicon.is_common(word)):
        return m.end()
    return 0


_TITLE_CASE = re.compile(r"[^\W\d_][^\W\d_A-Z]+(?:['’]s)?")


def unknown_capitalized(
    text: str, lexicon: Lexicon, covered: Sequence[tuple[int, int]]
) -> list[Found]:
    """Capitalized words in mid-sentence that are no English word and that NER put in no entity
    ("between him and Sumaya's kid"): most are names NER missed, a few are brands. Low score."""
    found: list[Found] = []
    for m in _WORD.finditer(text):
        word = m.group()
        if not word[0].isupper() or len(word) < 3 or not _TITLE_CASE.fullmatch(word):
            continue
        low = _base(word)
        if low in lexicon.common or lexicon.is_english(low) or _sentence_initial(text, m.start()):
            continue
        if any(start <= m.start() < end for start, end in covered):
            continue
        found.append(("PERSON", m.start(), _strip_possessive(text, m.start(), m.end()), 0.3))
    return found


def _plausible_name(word: str, lexicon: Lexicon) -> bool:
    low = word.lower()
    return (low in lexicon.first_names and not lexicon.is_common(low)) or not lexicon.is_english(
        word
    )


# --- phone numbers ----------------------------------------------------------------------------

_PHONE = re.compile(
    r"""(?<![\w+\-./]) (?:\+|00)? \(? \d [\d\ \t().\-]{5,22} \d   # digits and separators
        (?:[\ \t]?(?:x|ext\.?|extension)[\ \t]?\d{1,6})?          # an extension
        (?![\w\-/]|\.\d)""",
    re.IGNORECASE | re.VERBOSE,
)
_PHONE_GROUPS = re.compile(r"\d+")
_DATE_LIKE = re.compile(
    r"""(?<!\d)(?: \d{4}[-.]\d{1,2}[-.]\d{1,2} | \d{1,2}[-.]\d{1,2}[-.]\d{2,4}
                 | (?:19|20)\d\d\ ?-\ ?(?:19|20)?\d\d )(?!\d)""",
    re.VERBOSE,
)
_THOUSANDS = re.compile(r"^[1-9]\d{0,2}(?:([ .])\d{3})(?:\1\d{3})*$")
_BAD_SEPARATORS = re.compile(r"[ \t]{2,}|[.\-]{2,}|\)\d|\d\(")


def find_phones(text: str) -> list[Found]:
    """Phone numbers in any national format, by shape: 7 to 15 digits in separated groups.

    Presidio's phone recognizer only accepts numbers that are valid in a few countries; this one
    also catches the many formats it rejects ("(07) 5331 0577", "041-412-293", "986.291.2294x751").
    """
    found: list[Found] = []
    for m in _PHONE.finditer(text):
        raw = m.group()
        body = re.split(r"(?i)[ \t]?(?:x|ext\.?|extension)[ \t]?(?=\d+$)", raw, maxsplit=1)[0]
        groups = _PHONE_GROUPS.findall(body)
        digits = sum(map(len, groups))
        if not 7 <= digits <= 15 or _DATE_LIKE.search(body) or _BAD_SEPARATORS.search(body):
            continue
        # "00" dials abroad only before a full number: "00123842" is an order number.
        international = raw.startswith(("+", "(")) or (
            raw.startswith("00") and raw[2:3] != "0" and digits >= 11
        )
        if len(groups) == 1 and not international:
            continue  # a bare run of digits: an order number as often as a phone
        if (
            len(groups) >= 4
            and all(len(g) <= 3 for g in groups)
            and "." in body
            and not international
        ):
            continue  # 58.74.121.78 is an IP address
        if max(map(len, groups)) < 2:
            continue
        if _THOUSANDS.match(body) and not international:
            continue  # 12 500 000 is an amount
        found.append(("PHONE_NUMBER", m.start(), m.end(), 0.5))
    return found


# --- street addresses -------------------------------------------------------------------------

_W = r"[^\W\d_][\w'’.\-]*"  # a word that starts with a letter, in any script
_NUM = r"\d{1,5}[A-Za-z]?\b\.?"
_HOUSE = rf"(?:{_NUM}[ \t]+){{1,2}}"
_EN_SUFFIX = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|highway|hwy|parkway|pkwy|drive|dr|"
    r"court|ct|place|pl|way|terrace|circle|cir|square|sq|trail|crescent|close|row|alley|plaza|"
    r"grove|gardens|mews"
)
_STRONG_EN = _words("street st avenue ave road rd boulevard blvd lane ln highway hwy parkway pkwy")
_COMPOUND = (
    r"straat|strasse|straße|gasse|laan|gracht|plein|singel|kade|gata|gatan|gaten|vej|veien|vägen|"
    r"allee|platz|ring|weg|damm|ufer|utca|útja|út|körút|tér|ulica|gürtel|rkp\.|katu|tie|plads|torg"
)
_AMBIGUOUS_COMPOUND = frozenset({"ring", "weg", "út", "tie", "tér", "damm", "ufer", "torg"})
_PREFIX = (
    r"rue|avenue|boulevard|chemin|allée|impasse|quai|via|viale|piazza|corso|calle|avenida|paseo|"
    r"carrera|rua|travessa|praça|ulica|ul\.|aleja|plac|náměstí|πλατεία|οδός|λεωφόρος|улица|ул\."
)

_STREET_WORD = rf"(?:{_W}|\d{{1,4}}(?:st|nd|rd|th)\b)"  # "Main", "W.", "12th"
_EN_STREET = re.compile(
    rf"\b{_HOUSE}((?:{_STREET_WORD}[ \t]+){{1,4}}?)({_EN_SUFFIX})\b\.?", re.IGNORECASE
)
_COMPOUND_STREET = re.compile(rf"(?<![\w])[\w'’\-]*?(?:{_COMPOUND})[ \t]+{_NUM}", re.IGNORECASE)
_PREFIX_STREET = re.compile(
    rf"(?:\b{_HOUSE})?(?<![\w])(?:{_PREFIX})[ \t]+(?:{_W}[ \t]*){{1,4}}?(?:{_NUM}|(?=[,\n]))",
    re.IGNORECASE,
)
_UNIT_WORD = r"(?:apt|apartment|suite|ste|unit|flat)\.?[ \t]*#?[ \t]*"
_UNIT = re.compile(rf"\b{_UNIT_WORD}(?:\d{{1,5}}[A-Za-z]?|[A-Za-z]\d{{1,4}})\b", re.IGNORECASE)
_PO_BOX = re.compile(
    r"\b(?:p\.?[ \t]?o\.?|post[ \t]+office)[ \t]*box[ \t]+\d{1,6}\b", re.IGNORECASE
)
_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|"
    "NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY"
)
_CITY_STATE_ZIP = re.compile(
    rf"\b[A-Z][\w'.\-]+(?:[ \t][A-Z][\w'.\-]+){{0,2}},[ \t]*(?:{_US_STATES})"
    rf"[ \t]+\d{{5}}(?:-\d{{4}})?\b"
)
_ZIP_LABEL = re.compile(
    r"""\b(?:zip(?:[\ \t]?code)?|postal[\ \t]?code|post[\ \t]?code)[\ \t]*[:\#]?[\ \t]*
        ((?=[A-Z0-9\ \-]*\d)[A-Z0-9][A-Z0-9\-]{1,5}(?:[\ \t][A-Z0-9]{3})?)\b""",
    re.IGNORECASE | re.VERBOSE,
)
_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}\b")
# A house number and words after a phrase that announces an address: "lives at 87 Jakobi 69".
_CUE = re.compile(
    r"""\b(?: address(?:es)? | live[sd]? | living | located | moved | return(?:ed)? | ship(?:ped)?
             | deliver(?:ed)? | corner[\ \t]+of | is[\ \t]+at
           )\b[^\n.?!\d]{0,30}?(?=\d)""",
    re.IGNORECASE | re.VERBOSE,
)
_CUED_STREET = re.compile(
    rf"{_NUM}(?:[ \t]+{_NUM})?[ \t]+{_W}(?:[ \t]+{_W}){{0,3}}?"
    rf"(?:[ \t]+{_NUM}|(?=[ \t]*(?:[,\n]|$)))"
)
_BARE_STREET = re.compile(rf"(?m)^[^\w\n]*({_HOUSE}?(?:{_W}[ \t]+){{1,3}}{_NUM})[ \t]*$")
_PART_SEPARATOR = re.compile(r"[ \t]*(?:,[ \t]*|\n[\s?*•>|]*(?:,[ \t]*)?)|[ \t]+")
# One token of an address part: a unit, a number or postcode, "(region)", or a word.
_PART_TOKEN = re.compile(
    rf"""{_UNIT_WORD}\d{{1,5}}[A-Za-z]?
        | \d{{1,6}}(?:-\d{{4}})?\.?(?![\w\-]) | \d[A-Za-z\d]{{1,5}}\b
        | \([^()\n]{{1,30}}\) | [^\W\d_][\w'’.\-]*""",
    re.IGNORECASE | re.VERBOSE,
)


def find_addresses(text: str, lexicon: Lexicon | None = None) -> list[Found]:
    """Street addresses: US-style ("123 Main Street, Springfield, IL 62704"), units ("Apt 4B"),
    PO boxes, postcodes, and the common European and Greek forms ("Nassaustraat 123",
    "48 rue Descartes", "Πλατεία Μαβίλη 170"), extended over the city, region, postcode and
    country that follow them on the same line or the next lines."""
    if not any(c.isdigit() for c in text):
        return []
    stop = lexicon.stop if lexicon is not None else frozenset()
    spans: list[tuple[int, int]] = []
    for m in _EN_STREET.finditer(text):
        words, suffix = m.group(1).split(), m.group(2)
        if any(w.lower() in stop for w in words):
            continue
        if suffix.lower() not in _STRONG_EN and not (
            suffix[0].isupper() and words[-1][0].isupper()
        ):
            continue
        spans.append(m.span())
    for m in _COMPOUND_STREET.finditer(text):
        name = m.group().split()[0]
        if name.lower().endswith(tuple(_AMBIGUOUS_COMPOUND)) and not name[0].isupper():
            continue
        spans.append((_extend_back(text, m.start(), lexicon), m.end()))
    for m in _PREFIX_STREET.finditer(text):
        has_number = m.group()[0].isdigit() or m.group().rstrip(". ")[-1:].isdigit()
        if re.search(r"(?<![\w])via\b", m.group()):  # "via" is English too; "Via Roma 1" is not
            continue
        if has_number and not any(w.lower() in stop for w in m.group().split()[1:]):
            spans.append(m.span())
    for m in _CUE.finditer(text):
        s = _CUED_STREET.match(text, m.end())
        if s and not any(w.lower() in stop for w in s.group().split()):
            spans.append(s.span())
    for regex in (_UNIT, _PO_BOX, _CITY_STATE_ZIP, _UK_POSTCODE):
        spans.extend(m.span() for m in regex.finditer(text))
    spans.extend(m.span(1) for m in _ZIP_LABEL.finditer(text))
    # A bare "Školní 939" line counts when a unit or postcode line is next to it.
    for m in _BARE_STREET.finditer(text):
        if not any(w.lower() in stop for w in m.group(1).split()):
            after = text[m.end() : m.end() + 40]
            if _UNIT.search(after.split("\n", 2)[1] if after.count("\n") >= 1 else ""):
                spans.append(m.span(1))
    return [
        ("ADDRESS", start, end, 0.6)
        for start, end in _merge([(s, _extend(text, e, stop)) for s, e in spans])
    ]


_LAST_TOKEN = re.compile(r"(?:^|[ \t])([^\W\d_][\w'’.\-]*|\d{1,5}[A-Za-z]?)[ \t]+$")


def _extend_back(text: str, start: int, lexicon: Lexicon | None) -> int:
    """Take in a street's first words and house numbers: "Korte Noordsstraat", "05 Weblinger"."""
    words = numbers = 0
    while True:
        m = _LAST_TOKEN.search(text, max(0, start - 40), start)
        if m is None:
            return start
        token = m.group(1)
        if token[0].isdigit():
            numbers += 1
            if numbers > 2:
                return start
        else:
            if numbers or words == 2 or lexicon is None or token.lower() in lexicon.stop:
                return start
            if not token[0].isupper() and lexicon.is_english(token):
                return start
            words += 1
        start = m.start(1)


def _extend(text: str, end: int, stop: frozenset[str]) -> int:
    """Grow an address over the city, region, postcode and country parts that follow it."""
    parts = 0
    while parts < 6:
        sep = _PART_SEPARATOR.match(text, end)
        if sep is None:
            break
        same_line = "," not in sep.group() and "\n" not in sep.group()
        pos, tokens, numbers, part_end = sep.end(), 0, 0, end
        while tokens < 5:
            tok = _PART_TOKEN.match(text, pos)
            if tok is None:
                break
            word = tok.group()
            is_number = word[0].isdigit()
            if (
                word.lower() in stop
                or "@" in word
                or (same_line and not (is_number or word[0].isupper() or _UNIT.match(word)))
            ):
                break
            numbers += is_number
            if numbers > 2 or text.startswith(":", tok.end()):
                break  # a third number is a phone; "Mobile:" is a label
            tokens += 1
            part_end = tok.end()
            gap = re.match(r"[ \t]+", text[part_end:])
            if gap is None or same_line:
                break
            pos = part_end + gap.end()
        if not tokens:
            break
        end = part_end
        parts += 1
    return end


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


# --- the user's own PII -----------------------------------------------------------------------

# Digits with any light punctuation between them: "555_010_0199" and "5 5 5 0 1 0 0 1 9 9" too.
_DIGIT_RUN = re.compile(r"\+?\(?\d(?:[ \t().\-_/]{0,3}\d){5,24}")


class KnownPii:
    """Finds the PII already known for a record's user, however it is written.

    `known` maps an entity type to values: ``{"PERSON": ["Jane Doe"], "EMAIL_ADDRESS":
    ["jane@x.com"], "PHONE_NUMBER": ["+1 555 0100"]}``. Names match in any case, whole or by
    part ("jane", "DOE"), except parts that are common words (the "will" of "Will Smith"
    matches only within the full name); phones match on their digits, with or without country
    code or trunk zero; everything else matches literally, in any case.
    """

    def __init__(self, known: Mapping[str, Sequence[str]], common: Iterable[str] = ()) -> None:
        common = frozenset(common)
        self.phones: list[tuple[str, str]] = []  # (entity_type, digits without leading zeros)
        literals: dict[str, set[str]] = {}
        for entity, values in known.items():
            for value in values or ():
                if not isinstance(value, str) or not value.strip():
                    continue
                if entity == "PHONE_NUMBER":
                    digits = re.sub(r"\D", "", value).lstrip("0")
                    if len(digits) >= 7:
                        self.phones.append((entity, digits))
                    continue
                literals.setdefault(entity, set()).add(value.strip())
                if entity == "PERSON":
                    literals[entity].update(
                        p for p in _WORD.findall(value) if len(p) > 2 and p.lower() not in common
                    )
        self.patterns = [
            (
                entity,
                re.compile(
                    r"(?<![\w@.])(?:"
                    + "|".join(_flexible(v) for v in sorted(vs, key=len, reverse=True))
                    + r")(?![\w@])",
                    re.IGNORECASE,
                ),
            )
            for entity, vs in literals.items()
        ]

    def find(self, text: str) -> list[Found]:
        found: list[Found] = [
            (e, m.start(), m.end(), 1.0) for e, rx in self.patterns for m in rx.finditer(text)
        ]
        if self.phones:
            for m in _DIGIT_RUN.finditer(text):
                digits = re.sub(r"\D", "", m.group()).lstrip("0")
                for entity, known in self.phones:
                    if len(digits) >= 7 and (
                        digits == known or known.endswith(digits) or digits.endswith(known)
                    ):
                        found.append((entity, m.start(), m.end(), 1.0))
                        break
        return found


def _flexible(value: str) -> str:
    """A literal regex in which any run of whitespace matches any other."""
    return r"\s+".join(re.escape(part) for part in value.split())
