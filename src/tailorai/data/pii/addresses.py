"""Street addresses, which Presidio has no recognizer for: US, European and Greek street forms,
units, PO boxes and postcodes, each grown over the city, region, postcode and country after it."""

from __future__ import annotations

import re

from tailorai.data.pii.lexicon import Lexicon
from tailorai.data.pii.spans import Found
from tailorai.data.pii.words import word_set

__all__ = ["find_addresses"]

_W = r"[^\W\d_][\w'’.\-]*"  # a word that starts with a letter, in any script
_NUM = r"\d{1,5}[A-Za-z]?\b\.?"
_HOUSE = rf"(?:{_NUM}[ \t]+){{1,2}}"
_EN_SUFFIX = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|highway|hwy|parkway|pkwy|drive|dr|"
    r"court|ct|place|pl|way|terrace|circle|cir|square|sq|trail|crescent|close|row|alley|plaza|"
    r"grove|gardens|mews"
)
_STRONG_EN = word_set(
    "street st avenue ave road rd boulevard blvd lane ln highway hwy parkway pkwy"
)
_COMPOUND = (
    r"straat|strasse|straße|gasse|laan|gracht|plein|singel|kade|gata|gatan|gaten|vej|veien|vägen|"
    r"allee|platz|ring|weg|damm|ufer|utca|útja|út|körút|tér|ulica|gürtel|rkp\.|katu|tie|plads|torg"
)
_AMBIGUOUS_COMPOUND = frozenset({"ring", "weg", "út", "tie", "tér", "damm", "ufer", "torg"})
_PREFIX = (
    r"rue|avenue|boulevard|chemin|allée|impasse|quai|via|viale|piazza|corso|calle|avenida|paseo|"
    r"carrera|rambla|ronda|glorieta|urbanización|callejón|cañada|alameda|pasaje|cuesta|camino|"
    r"carrer|plaça|rua|travessa|praça|ulica|ul\.|aleja|plac|náměstí|πλατεία|οδός|λεωφόρος|улица|"
    r"ул\."
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
        if sep.group().count("\n") > 1 and text[end - 1] in ".!?":
            break  # a sentence, then a new paragraph: "to 895 Kirk Square.\n\nMs Thompson"
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
