"""Author names as arXiv writes them: one string "A. One (MIT), B. Two and C. Three Jr.", with TeX accents.

Shared by the sources that read arXiv's own metadata (OAI-PMH arXivRaw, the Kaggle snapshot).
"""

from __future__ import annotations

import re
import unicodedata

from paperboy.sources.base import clean_text

SUFFIX = re.compile(r"^(?:jr|sr)\.?$|^(?:ii|iii|iv|v|vi)$", re.IGNORECASE)
AUTHOR_SEPARATOR = re.compile(r"\s*[,;&]\s*(?:and\s+)?|\s+and\s+|^and\s+", re.IGNORECASE)
INNERMOST_PARENS = re.compile(r"\([^()]*\)")
ET_AL = re.compile(r"^(?:et\.?\s*al\.?|others)$", re.IGNORECASE)


def author_names(text: str) -> list[str]:
    """The names in an arXiv authors string, TeX accents turned into Unicode."""
    return [tex_to_unicode(name) for name in split_authors(text)]


def split_authors(text: str) -> list[str]:
    """The names in an arXivRaw authors string such as 'A, B (MIT) and C Jr.'.

    Names are separated by commas, semicolons and ' and '; parenthesised affiliations (nested ones too, as in
    'A (1,2), B (3) ((1) Cape Town, ...)') are dropped; a lone 'Jr.'/'III' after a comma joins the name before it.
    """
    text = clean_text(text)
    while True:
        stripped = INNERMOST_PARENS.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    text = re.sub(r"\([^)]*$", " ", text).replace(")", " ")  # an unclosed parenthesis runs to the end
    names: list[str] = []
    for piece in AUTHOR_SEPARATOR.split(text):
        name = clean_text(piece)
        if not name or ET_AL.match(name):
            continue
        if SUFFIX.match(name) and names:
            names[-1] = f"{names[-1]} {name}"
        else:
            names.append(name)
    return names


COMBINING = {
    "'": "\u0301",
    "`": "\u0300",
    '"': "\u0308",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "v": "\u030c",
    "H": "\u030b",
    "u": "\u0306",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
    "b": "\u0331",
}
LETTERS = {
    "ss": "ß",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "o": "ø",
    "O": "Ø",
    "l": "ł",
    "L": "Ł",
    "i": "\u0131",  # dotless i
    "j": "\u0237",  # dotless j
}
_BASE = r"(?:\\[ij](?![A-Za-z])|[A-Za-z])"
# \'a \'{a} \' a \'\i ; letter accents need braces or a space: \v{s} \v s (so \vec, \cdot are left alone)
SYMBOL_ACCENT = re.compile(r"\\([`'\"^~=.])\s*(?:\{\s*(" + _BASE + r")\s*\}|(" + _BASE + "))")
LETTER_ACCENT = re.compile(r"\\([vHuckrdb])(?:\s*\{\s*(" + _BASE + r")\s*\}|\s+(" + _BASE + "))")
SPECIAL_LETTER = re.compile(r"\\(ss|ae|AE|oe|OE|aa|AA|o|O|l|L|i|j)(?![A-Za-z])(?:\{\}|\s(?=[A-Za-z]))?")
BRACED_TEXT = re.compile(r"(\\[A-Za-z]+\s*)?\{([^{}\\]*)\}")  # a group after a macro is its argument: kept


def _accent(match: re.Match[str]) -> str:
    base = match.group(2) or match.group(3)
    if base.startswith("\\"):
        base = base[1]  # a dotless i or j under an accent is just the letter with the accent
    return base + COMBINING[match.group(1)]


def tex_to_unicode(name: str) -> str:
    """TeX accents and special letters in a name as Unicode: ``Bal\\'azs`` -> Balázs, ``{\\O}bro`` -> Øbro.

    Unknown macros are left as they are, so nothing is lost; names without a backslash or brace pass untouched.
    """
    if "\\" not in name and "{" not in name:
        return name
    text = SYMBOL_ACCENT.sub(_accent, name)
    text = LETTER_ACCENT.sub(_accent, text)
    text = SPECIAL_LETTER.sub(lambda m: LETTERS[m.group(1)], text)
    while True:  # {\'a} -> {á} -> á, innermost first
        unbraced = BRACED_TEXT.sub(lambda m: m.group(0) if m.group(1) else m.group(2), text)
        if unbraced == text:
            break
        text = unbraced
    return unicodedata.normalize("NFC", text)
