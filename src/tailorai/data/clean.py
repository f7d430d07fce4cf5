"""Clean: repair text the way exports break it, without touching what it says.

Mojibake and HTML entities are fixed with ftfy, HTML markup becomes text, Unicode is normalized
(NFC), zero-width characters go (but the joiners inside emoji sequences stay), and whitespace is
collapsed: runs of spaces become one, three or more newlines become a paragraph break.
"""

from __future__ import annotations

import re

import ftfy

from tailorai.data.step import TextTransform

__all__ = ["Clean", "html_to_text"]

_HTML_TAG = re.compile(
    r"</?(?:html|head|body|p|br|div|span|b|i|u|a|ul|ol|li|table|tr|td|th|strong|em|h[1-6]|img"
    r"|font|blockquote|pre|code|hr|section|article|header|footer)\b[^>]*>",
    re.IGNORECASE,
)
# Zero-width space, word joiner, BOM, direction marks, soft hyphen: never meaningful in text.
_ZERO_WIDTH = re.compile("[\u200b\u2060\ufeff\u200e\u200f\u00ad]")
# A zero-width joiner is kept only when it glues two pictographs (family and flag emoji).
_EMOJI = "\u2600-\u27bf\U0001f000-\U0001faff\ufe0f"
_STRAY_ZWJ = re.compile(f"(?<![{_EMOJI}])\u200d|\u200d(?![{_EMOJI}])")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# ASCII text without entities or control characters is what ftfy would return unchanged.
_NEEDS_FTFY = re.compile(r"[^\x09\x0a\x20-\x7e]|&")
_BLOCK_TAGS = ("p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre")


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment or page, with block elements on their own lines."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    for node in tree.css("script, style, head"):
        node.decompose()
    for node in tree.css("br"):
        node.replace_with("\n")
    for node in tree.css(", ".join(_BLOCK_TAGS)):
        node.insert_after("\n")
    root = tree.body or tree.root
    return root.text(separator="") if root is not None else ""


class Clean(TextTransform):
    name = "clean"

    def transform(self, text: str) -> str:
        if _HTML_TAG.search(text):
            text = html_to_text(text)
        if _NEEDS_FTFY.search(text):
            text = ftfy.fix_text(text, unescape_html=True, normalization="NFC")
        text = _ZERO_WIDTH.sub("", text)
        text = _STRAY_ZWJ.sub("", text)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
