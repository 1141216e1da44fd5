"""GSM 03.38 (GSM-7): which characters an SMS can carry without switching to UCS-2.

One character outside the GSM-7 alphabet turns the whole SMS into UCS-2, which cuts a
segment from 160 to 70 characters. French copy is full of such characters by accident
(typographic apostrophes, non-breaking spaces, ê, ç, œ), so :func:`to_gsm7` replaces them
with their nearest GSM-7 spelling before anything is counted or sent.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# The basic character set (one septet each).
BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets (escape + character).
EXTENDED = frozenset("^{}\\[~]|€\f")

SINGLE_SEGMENT = {"GSM-7": 160, "UCS-2": 70}
# Concatenated messages lose room to the user data header.
MULTI_SEGMENT = {"GSM-7": 153, "UCS-2": 67}

# Nearest GSM-7 spelling of characters that French and English copy produce by accident.
_REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2039": "'",
    "\u203a": "'",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2007": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u200b": "",
    "\u2060": "",
    "\ufeff": "",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "-",
    "\u00b7": "-",
    "\t": " ",
    "ç": "c",  # GSM-7 has only the capital Ç, which looks wrong inside a word
    "œ": "oe",
    "Œ": "OE",
    "ê": "e",
    "ë": "e",
    "â": "a",
    "î": "i",
    "ï": "i",
    "ô": "o",
    "û": "u",
    "ÿ": "y",
    "á": "a",
    "í": "i",
    "ó": "o",
    "ú": "u",
    "ã": "a",
    "õ": "o",
    "À": "A",
    "Â": "A",
    "È": "E",
    "Ê": "E",
    "Ë": "E",
    "Î": "I",
    "Ï": "I",
    "Ô": "O",
    "Û": "U",
    "Ù": "U",
    "Ÿ": "Y",
    "Á": "A",
    "Í": "I",
    "Ó": "O",
    "Ú": "U",
    "\u00b0": "o",
    "\u2116": "No",
    "\u2122": "TM",
    "\u00ae": "(R)",
    "\u00a9": "(C)",
    "¢": "c",
    "±": "+/-",
    "\u00d7": "x",  # multiplication sign
    "÷": "/",
    "µ": "u",
    "¼": "1/4",
    "½": "1/2",
    "¾": "3/4",
    "¹": "1",
    "²": "2",
    "³": "3",
    "ª": "a",
    "º": "o",
    "¬": "-",
    "¦": "|",
    "ð": "d",
    "Ð": "D",
    "þ": "th",
    "Þ": "Th",
    "ĸ": "k",
    "ŉ": "'n",
    "\u017f": "s",  # long s
}
_LATIN_LETTER = re.compile(r"^LATIN (SMALL|CAPITAL) (?:LETTER|LIGATURE) ([A-Z]{1,2})\b")


@dataclass(frozen=True)
class SegmentCount:
    """How an SMS will travel: its encoding, its length in units, and its segment count."""

    encoding: str  # "GSM-7" | "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int

    @property
    def single_segment(self) -> bool:
        return self.segments == 1


def is_gsm7(text: str) -> bool:
    """True if every character fits the GSM-7 alphabet (basic or extension)."""
    return all(ch in BASIC or ch in EXTENDED for ch in text)


def to_gsm7(text: str) -> str:
    """``text`` with accidental non-GSM-7 characters replaced by their nearest GSM-7 spelling.

    Letters with accents GSM-7 lacks lose the accent; emoji and pictographs are dropped.
    Characters with no sensible replacement (other scripts) are kept: then the SMS is
    UCS-2 on purpose, and :func:`count_segments` says so.
    """
    out: list[str] = []
    for ch in text:
        if ch in BASIC or ch in EXTENDED:
            out.append(ch)
            continue
        replacement = _REPLACEMENTS.get(ch)
        if replacement is not None:
            out.append(replacement)
            continue
        category = unicodedata.category(ch)
        if category in ("So", "Sk", "Cs", "Co", "Cn", "Mn", "Cf", "Cc"):
            continue  # emoji, modifiers, joiners, controls: nothing a phone needs to show
        if category.startswith("Z"):
            out.append(" ")
            continue
        stripped = "".join(
            c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
        )
        if stripped and all(c in BASIC for c in stripped):
            out.append(stripped)
            continue
        if ord(ch) <= 0x24F:  # Latin letters GSM-7 lacks: their base letter; symbols: dropped
            match = _LATIN_LETTER.match(unicodedata.name(ch, ""))
            if match:
                base = match.group(2)
                out.append(base if match.group(1) == "CAPITAL" else base.lower())
            continue
        out.append(ch)  # another script: UCS-2 is the only honest way to send it
    return "".join(out)


def count_segments(text: str) -> SegmentCount:
    """The encoding and number of segments ``text`` takes as an SMS."""
    if is_gsm7(text):
        units = sum(2 if ch in EXTENDED else 1 for ch in text)
        encoding = "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        encoding = "UCS-2"
    if units <= SINGLE_SEGMENT[encoding]:
        return SegmentCount(encoding, units, 1)
    per_segment = MULTI_SEGMENT[encoding]
    if encoding == "GSM-7":
        # An escape and its character never straddle two segments.
        segments, used = 1, 0
        for ch in text:
            cost = 2 if ch in EXTENDED else 1
            if used + cost > per_segment:
                segments, used = segments + 1, 0
            used += cost
        return SegmentCount(encoding, units, segments)
    # Likewise a surrogate pair never straddles two UCS-2 segments.
    segments, used = 1, 0
    for ch in text:
        cost = 2 if ord(ch) > 0xFFFF else 1
        if used + cost > per_segment:
            segments, used = segments + 1, 0
        used += cost
    return SegmentCount(encoding, units, segments)
