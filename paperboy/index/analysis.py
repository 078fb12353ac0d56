"""How text becomes search terms: one English analyzer for index and query, and compound splitting for titles.

Titles of ML papers are full of made-up compounds (AgentFormer, LongWriter, MedAgentBench, Hiformer, GPT-4o).
Users searching "AgentFormer" expect papers named AgentCoder and TokenFormer too (the seed search page shows it),
so each title word is also indexed by its *sub-words*, in two fields: its camel-case/digit/hyphen *parts*, and
(weaker) the *affixes* of those, prefixes and suffixes of at least :data:`MIN_AFFIX` letters; all plural-stripped.
A query word's parts are then plain term lookups: "agent" hits AgentCoder and KwaiAgents (parts), Agentless and
Agentic (prefixes); "former" hits TokenFormer (part), Hiformer and Transformers (suffixes). Infixes (M-agent-ic)
deliberately do not match.

The analyzer is tantivy's own, so the terms used to build queries and to highlight are exactly the indexed ones.
"""

from __future__ import annotations

import re
from functools import lru_cache

import tantivy

ENGLISH = "paperboy_en"  # title and abstract: words, lowercased, ASCII-folded, Snowball English stems
NAMES = "paperboy_names"  # authors: words, lowercased, ASCII-folded, not stemmed
SUBWORDS = "paperboy_subwords"  # the title sub-words computed here, space-separated, taken as they are

MAX_TOKEN_CHARS = 40  # longer "words" are URLs, hashes or base64: not worth indexing
MIN_AFFIX = 4  # shortest prefix/suffix indexed: "agent" and "former" match, "gym" only as a real part
MAX_AFFIX_WORD = 32  # words longer than this contribute their parts but no prefixes/suffixes

# Free query terms drop these when other terms remain: they match nearly every abstract and only cost time.
STOP_WORDS = frozenset(
    {
        *("a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "for", "from", "has", "have", "if", "in"),
        *("into", "is", "it", "its", "no", "not", "of", "on", "or", "our", "such", "that", "the", "their", "then"),
        *("there", "these", "they", "this", "to", "via", "was", "we", "were", "will", "with"),
    }
)

_SENTENCE_BREAK = re.compile(r"([.!?])\s+(?=[A-Z0-9(\[])")  # . ! ? then a space and a capital, digit or bracket
_MARK = "qqpaperboysentencemarkqq"  # a word no text holds, put between sentences before they are analysed
_WORD = re.compile(r"[^\W_]+(?:[-'.][^\W_]+)*")
MIN_PART = 3  # shorter camel-case parts (the "Ax" of AxFormer, the "La" of LLaMA) are noise as sub-words


def _build(tokenizer: tantivy.Tokenizer, *filters: tantivy.Filter) -> tantivy.TextAnalyzer:
    builder = tantivy.TextAnalyzerBuilder(tokenizer)
    for f in filters:
        builder = builder.filter(f)
    return builder.build()


def english_analyzer() -> tantivy.TextAnalyzer:
    return _build(
        tantivy.Tokenizer.simple(),
        tantivy.Filter.remove_long(MAX_TOKEN_CHARS),
        tantivy.Filter.lowercase(),
        tantivy.Filter.ascii_fold(),
        tantivy.Filter.stemmer("english"),
    )


def names_analyzer() -> tantivy.TextAnalyzer:
    return _build(
        tantivy.Tokenizer.simple(),
        tantivy.Filter.remove_long(MAX_TOKEN_CHARS),
        tantivy.Filter.lowercase(),
        tantivy.Filter.ascii_fold(),
    )


def subwords_analyzer() -> tantivy.TextAnalyzer:
    return _build(tantivy.Tokenizer.whitespace())


def analyzers() -> dict[str, tantivy.TextAnalyzer]:
    """The analyzers an index must register under these names before it is written or searched."""
    return {ENGLISH: english_analyzer(), NAMES: names_analyzer(), SUBWORDS: subwords_analyzer()}


_english = english_analyzer()
_names = names_analyzer()


def analyze(text: str) -> list[str]:
    """The indexed terms of ``text`` in the title/abstract fields (stemmed), in order."""
    return list(_english.analyze(text))


def analyze_names(text: str) -> list[str]:
    """The indexed terms of ``text`` in the authors field (not stemmed), in order."""
    return list(_names.analyze(text))


def _marked(text: str) -> str:
    """``text`` with :data:`_MARK` between its sentences: at line breaks and where . ! or ? is followed by a space
    and a capital, digit or bracket ("e.g. the" and "3.5 mm" stay whole; "Fig. 2" is cut, which costs little)."""
    return _SENTENCE_BREAK.sub(rf"\1 {_MARK} ", text.replace("\n", f" {_MARK} "))


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences, roughly (see :func:`_marked`)."""
    return [s for s in (part.strip() for part in _marked(text).split(_MARK)) if s]


@lru_cache(maxsize=1024)
def sentence_terms(text: str) -> tuple[tuple[str, ...], ...]:
    """The indexed terms of each of :func:`sentences`' sentences (empty ones left out), from one call of the
    analyzer on the marked text: a call per sentence costs twice as much. Remembered for the last 1,024 texts:
    the same abstracts come back in the next searches."""
    found: list[list[str]] = [[]]
    for term in _english.analyze(_marked(text)):
        if term == _MARK:
            found.append([])
        else:
            found[-1].append(term)
    return tuple(tuple(terms) for terms in found if terms)


def token_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, term) for each indexed term of ``text``; offsets are character offsets, for highlighting."""
    return [(t.char_offset_from, t.char_offset_to, t.text) for t in _english.pre_tokenize(text).tokens]


def fold(word: str) -> str:
    """Lowercase and ASCII-fold one word the way the analyzers do, so sub-words meet the other fields' terms."""
    folded = _names.analyze(word)
    return "".join(folded)


def singular(word: str) -> str:
    """A light English plural strip (agents -> agent, Greenformers -> greenformer); keeps -ss, -us, -is."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _camel_pieces(piece: str) -> list[str]:
    """Split one alphanumeric run where a new word visibly starts: aB, a1, 1A, and ABc (the last capital of a
    run of capitals followed by lowercase starts a word: DSFormer -> DS, Former). 4o and 7b stay whole."""
    pieces: list[str] = []
    start = 0
    for i in range(1, len(piece)):
        prev, cur = piece[i - 1], piece[i]
        following = piece[i + 1] if i + 1 < len(piece) else ""
        if (
            (prev.islower() and cur.isupper())
            or (prev.isalpha() and cur.isdigit())
            or (prev.isdigit() and cur.isupper())
            or (prev.isupper() and cur.isupper() and following.islower())
        ):
            pieces.append(piece[start:i])
            start = i
    pieces.append(piece[start:])
    return pieces


_CAMEL_WORD = re.compile(r"\b[^\W_]*[a-z][A-Z][^\W_]*\b")


def with_camel_parts(text: str) -> str:
    """``text`` with each camel-case word followed by its parts of at least MIN_PART letters ("AgentFormer" ->
    "AgentFormer Agent Former"), so word-level analysis (the re-ranker's) sees the parts the sub-word fields match:
    the stemmer alone makes one term no paper has of "AgentFormer"."""

    def spelled_out(match: re.Match[str]) -> str:
        parts = [p for p in _camel_pieces(match.group()) if len(p) >= MIN_PART]
        return " ".join([match.group(), *parts])

    return _CAMEL_WORD.sub(spelled_out, text)


def compound_parts(word: str) -> list[str]:
    """The folded parts of one word at hyphens, camel case and letter/digit boundaries.

    "AgentFormer" -> [agent, former]; "LongWriter" -> [long, writer]; "GPT-4o" -> [gpt, 4o];
    "MedAgentBench" -> [med, agent, bench]; "Hiformer" -> [hiformer] (no boundary to see).
    """
    parts: list[str] = []
    for piece in re.split(r"[\W_]+", word):
        for sub in _camel_pieces(piece) if piece else ():
            folded = fold(sub)
            if folded:
                parts.append(folded)
    return parts


def _affixes(word: str) -> set[str]:
    if len(word) > MAX_AFFIX_WORD:
        return set()
    return {word[:n] for n in range(MIN_AFFIX, len(word) + 1)} | {word[-n:] for n in range(MIN_AFFIX, len(word))}


@lru_cache(maxsize=65536)
def word_parts(word: str) -> frozenset[str]:
    """The title word as a query part may name it: folded whole (hyphens dropped) and its parts of at least
    MIN_PART letters, each also plural-stripped. AgentCoder -> agentcoder, agent, coder."""
    parts = compound_parts(word)
    forms = {"".join(parts), *(p for p in parts if len(p) >= MIN_PART)}
    found = {variant for form in forms if form for variant in (form, singular(form))}
    return frozenset(s for s in found if len(s) >= 2 and not s.isdigit())


@lru_cache(maxsize=65536)
def word_affixes(word: str) -> frozenset[str]:
    """Prefixes and suffixes (>= MIN_AFFIX letters) of the word's parts: the weaker sub-word match that finds
    Hiformer and Transformers for "former" and Agentic for "agent"."""
    return frozenset(a for form in word_parts(word) for a in _affixes(form)) - word_parts(word)


def word_subwords(word: str) -> frozenset[str]:
    """Every query part that matches this title word one way or the other (for highlighting)."""
    return word_parts(word) | word_affixes(word)


def title_subwords(title: str) -> tuple[str, str]:
    """The texts of the two sub-word fields of a title: (parts, affixes), space-separated, deduplicated."""
    parts: dict[str, None] = {}
    affixes: dict[str, None] = {}
    for match in _WORD.finditer(title):
        word = match.group()
        parts.update(dict.fromkeys(sorted(word_parts(word))))
        affixes.update(dict.fromkeys(sorted(word_affixes(word))))
    return " ".join(parts), " ".join(a for a in affixes if a not in parts)


def query_subwords(word: str) -> list[str]:
    """The sub-word terms of one query word: its parts, and itself as one folded word, plural-stripped.

    "AgentFormer" -> [agentformer, agent, former]; "agents" -> [agent]; "GPT-4o" -> [gpt4o, gpt];
    parts shorter than MIN_PART are left out ("LLaMA" -> [llama], not la, ma).
    """
    parts = compound_parts(word)
    terms = ["".join(parts)]
    if len(parts) > 1:
        terms += [p for p in parts if len(p) >= MIN_PART]
    unique: dict[str, None] = {}
    for term in terms:
        term = singular(term)
        if len(term) >= 2 and not term.isdigit():
            unique.setdefault(term, None)
    return list(unique)
