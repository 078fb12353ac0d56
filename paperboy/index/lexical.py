"""The lexical (BM25) half of search, on tantivy, kept under ``data_dir/index/lexical``.

Why tantivy: measured here on the same corpus as bm25s and SQLite FTS5 (``bench/lexical_engines.py``), it builds
fastest, answers OR-queries in well under a millisecond, accepts incremental adds and deletes, and scores with BM25
(k1=1.2, b=0.75: tantivy's fixed, standard values, which suit abstracts of a few hundred words).

Fields: ``title`` (boosted), ``abstract``, ``authors`` (English stemming for the first two, plain for names),
``title_parts`` and ``title_affixes`` (every title word's sub-words, see :mod:`paperboy.index.analysis`, so
"AgentFormer" finds AgentCoder and TokenFormer), ``categories`` (lowercased, plus the archive: cs.CL gives cs.cl
and cs) and ``published``. Only ``id`` is stored: hits are read back as ids (a few hundred per hybrid search),
and the texts to show and highlight come from the store. The index is derived data: if its files are from another
schema version or tantivy format, it is wiped and rebuilt by :mod:`paperboy.index.sync`.

Speed at a million papers comes from the query's shape (see :meth:`LexicalIndex._term_clauses`): plain words
and words written with separators ("stem-cell") make one flat OR of term queries, which tantivy answers with
block-max WAND; camel-case compounds ("AgentFormer") keep exact constant-score clauses, which tantivy cannot prune
but which are rare in queries (measured in bench/search_latency.py).
"""

from __future__ import annotations

import html
import json
import math
import re
import shutil
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import tantivy

from paperboy.domain import Paper
from paperboy.index import analysis
from paperboy.index.query import Filters, ParsedQuery

SCHEMA_VERSION = 2  # bump when fields or analyzers change: an index of another version is wiped and rebuilt
META_FILE = "paperboy-lexical.json"
TITLE_BOOST = 2.5
ABSTRACT_BOOST = 1.0
AUTHORS_BOOST = 1.0
# Sub-word hits score about constants (see LexicalIndex._term_clauses), well below a literal title match (~2.5 x idf).
PART_SCORE = 1.0  # a title word has the query part as a part: AgentCoder, KwaiAgents, TokenFormer for "AgentFormer"
AFFIX_SCORE = 0.7  # ... as a prefix or suffix only: Agentic, Hiformer, Transformers (two of these beat one part)
WHOLE_FACTOR = 2.0  # the query word whole, in another form: Agent-Former, AgentFormers
PART_BOOST = 0.05  # a compound's part in the abstract ("agent" for "AgentFormer"): a tie-breaker
MAX_LIMIT = 10_000
IDF_CACHE_TERMS = 500_000
_DOCS_KEY = "\x00papers"  # no analysed term contains a NUL
WRITER_HEAP_BYTES = 128_000_000
_SEPARATOR = re.compile(r"[\W_]")  # a word written with a hyphen, slash, dot...: its parts are words of their own
_MIN_DAY = date(1678, 1, 1)  # tantivy dates span roughly 1677..2262
_MAX_DAY = date(2261, 12, 31)


def index_path(data_dir: Path) -> Path:
    """Where the lexical index of a site lives."""
    return Path(data_dir) / "index" / "lexical"


@dataclass(frozen=True, slots=True)
class Hit:
    """One matching paper and its BM25 score (0.0 for a filter-only listing)."""

    paper_id: str
    score: float


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=False, tokenizer_name=analysis.ENGLISH)
    builder.add_text_field("abstract", stored=False, tokenizer_name=analysis.ENGLISH)
    builder.add_text_field("authors", stored=False, tokenizer_name=analysis.NAMES)
    builder.add_text_field("title_parts", stored=False, tokenizer_name=analysis.SUBWORDS, index_option="basic")
    builder.add_text_field("title_affixes", stored=False, tokenizer_name=analysis.SUBWORDS, index_option="basic")
    builder.add_text_field("categories", stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_date_field("published", stored=False, indexed=True, fast=True)
    return builder.build()


class LexicalIndex:
    """A persistent BM25 index of papers. Safe to search from many threads; writes are serialised."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._write_lock = threading.Lock()
        self.schema = _schema()
        self.index = self._open()
        self._idf_cache: dict[str, float] = {}  # text_idfs' memory; _DOCS_KEY holds the paper count it is for

    def _open(self) -> tantivy.Index:
        meta = self.path / META_FILE
        if self.path.exists() and not self._is_current(meta):
            shutil.rmtree(self.path)  # derived data of another version: start empty, sync rebuilds it
        self.path.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        for name, analyzer in analysis.analyzers().items():
            index.register_tokenizer(name, analyzer)
        if not meta.exists():
            meta.write_text(json.dumps({"schema_version": SCHEMA_VERSION}))
        return index

    def _is_current(self, meta: Path) -> bool:
        try:
            version = json.loads(meta.read_text()).get("schema_version")
        except (OSError, ValueError, AttributeError):
            return not any(self.path.iterdir())  # an empty folder is fine to use
        try:
            return version == SCHEMA_VERSION and (
                not tantivy.Index.exists(str(self.path)) or tantivy.Index.is_compatible(str(self.path))
            )
        except (OSError, ValueError):
            return False

    # -- writing -----------------------------------------------------------------------------------------------

    @contextmanager
    def _writer(self) -> Iterator[tantivy.IndexWriter]:
        """One writer per batch, committed at the end; a failed batch is rolled back and changes nothing."""
        with self._write_lock:
            writer = self.index.writer(heap_size=WRITER_HEAP_BYTES)
            try:
                yield writer
            except BaseException:
                writer.rollback()
                raise
            else:
                writer.commit()
            finally:
                writer.wait_merging_threads()
            self.index.reload()

    def add_or_replace(self, papers: Iterable[Paper]) -> int:
        """Index the papers' current state, replacing any earlier version of each; returns how many."""
        count = 0
        with self._writer() as writer:
            for paper in papers:
                writer.delete_documents_by_term("id", paper.id)
                writer.add_document(self._document(paper))
                count += 1
        return count

    def delete(self, ids: Iterable[str]) -> None:
        """Remove papers (hidden or gone from the store); unknown ids are ignored."""
        with self._writer() as writer:
            for paper_id in ids:
                writer.delete_documents_by_term("id", paper_id)

    def replace_all(self, papers: Iterable[Paper]) -> int:
        """Swap the whole content for ``papers`` in one commit: searches see the old index until it is done."""
        count = 0
        with self._writer() as writer:
            writer.delete_all_documents()
            for paper in papers:
                writer.add_document(self._document(paper))
                count += 1
        return count

    def _document(self, paper: Paper) -> tantivy.Document:
        doc = tantivy.Document()
        doc.add_text("id", paper.id)
        doc.add_text("title", paper.title or "")
        doc.add_text("abstract", paper.abstract or "")
        for name in paper.authors:
            doc.add_text("authors", name)
        parts, affixes = analysis.title_subwords(paper.title or "")
        doc.add_text("title_parts", parts)
        doc.add_text("title_affixes", affixes)
        for category in _category_terms(paper.categories):
            doc.add_text("categories", category)
        if paper.published_at is not None and _MIN_DAY.year <= paper.published_at.year <= _MAX_DAY.year:
            doc.add_date("published", paper.published_at.astimezone(UTC))
        return doc

    def __len__(self) -> int:
        return int(self.index.searcher().num_docs)

    # -- searching ---------------------------------------------------------------------------------------------

    def search(
        self,
        query: ParsedQuery,
        limit: int = 50,
        filters: Filters | None = None,
        title_boost: float = TITLE_BOOST,
    ) -> list[Hit]:
        """The best ``limit`` papers for ``query`` and ``filters`` (added to the query's own), best first.

        Free words are OR-ed and scored by BM25 over title (boosted), abstract, authors and title sub-words;
        phrases must occur (then the words only rank); exclusions remove papers whose title, abstract or authors
        contain them. A query with filters or exclusions but no words lists the matching papers newest first,
        with score 0.0.
        Only ids are stored in the index (highlighting is done on the store's texts, see :class:`Highlighter`):
        reading a hit's id from a small stored document is what a search of 200 candidates spends most on.
        ``title_boost`` weighs a title match against an abstract match: hybrid search passes its own, tuned with
        the dense half (which already reads the title), see :mod:`paperboy.index.hybrid`.
        """
        limit = max(0, min(int(limit), MAX_LIMIT))
        merged = query.filters.merged(filters)
        if limit == 0 or (
            not query.has_text and not merged and not query.excluded_terms and not query.excluded_phrases
        ):
            return []
        searcher = self.index.searcher()
        built = self._query(query, merged, title_boost)
        if built is None:
            return []
        if query.has_text:
            hits = [(float(score), address) for score, address in searcher.search(built, limit, count=False).hits]
        else:
            found = searcher.search(built, limit, count=False, order_by_field="published", order=tantivy.Order.Desc)
            hits = [(0.0, address) for _, address in found.hits]
        return [Hit(str(searcher.doc(address).get_first("id")), score) for score, address in hits]

    def filter_ids(
        self, ids: Collection[str], query: ParsedQuery, filters: Filters | None = None, phrases: bool = False
    ) -> set[str]:
        """Those of ``ids`` that the query's filters and exclusions (not its words) allow: for candidates found
        elsewhere, e.g. by the dense search, so both halves of a hybrid search obey the same syntax.
        ``phrases=True`` also requires the query's exact phrases, which a hybrid search treats as musts too."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return set()
        restrictions = self._restrictions(query, query.filters.merged(filters))
        if phrases:
            for phrase in query.phrases:
                phrase_query = self._text_query(phrase)
                if phrase_query is not None:
                    restrictions.append((tantivy.Occur.Must, _zero(phrase_query)))
        built = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, "id", ids)), *restrictions]
        )
        searcher = self.index.searcher()
        found = searcher.search(built, len(ids), count=False).hits
        return {str(searcher.doc(address).get_first("id")) for _, address in found}

    def coverage(self, query: ParsedQuery, texts: Mapping[str, str]) -> dict[str, float]:
        """How much of the query each paper contains: the idf-weighted share of the query's words (stemmed) found
        in its text (``texts``: paper id -> title and abstract), 0.0 to 1.0; papers with none are left out.

        Why: BM25 rewards a word said ten times nearly as much as two rarer words said once, and the dense half
        does not count words at all; a paper that names *all* of a claim's rare words is usually the one meant.
        As a third signal of the hybrid fusion it lifts SciFact nDCG@10 by 0.005-0.01 (bench/retrieval.py).
        Words no paper has are left out of the share, so a typo does not shrink it. The texts are analysed here,
        with the index's own analyzer, instead of asked of the index: a search restricted to the candidates walks
        each common word's whole posting list, ~38 ms for 200 papers at a million, while analysing a text costs
        ~0.1 ms whatever the index's size (the hybrid asks about its best 50 candidates: ~5 ms)."""
        weights = {stem: self._text_idf(stem) for stem in analysis.analyze(query.plain_text)}
        weights = {stem: idf for stem, idf in weights.items() if idf > 0}
        total = sum(weights.values())
        if total <= 0:
            return {}
        shares = {}
        for paper_id, text in texts.items():
            held = {term for sentence in analysis.sentence_terms(text) for term in sentence}
            share = sum(idf for stem, idf in weights.items() if stem in held) / total
            if share > 0:
                shares[paper_id] = min(1.0, share)
        return shares

    def text_idfs(self, terms: Iterable[str]) -> dict[str, float]:
        """:meth:`_text_idf` of many terms at once (the re-ranker asks for the ~3,000 terms of 50 abstracts).

        Answers are remembered until the number of papers changes (a term's idf moves only with it), up to
        :data:`IDF_CACHE_TERMS` terms: a search then costs ~0.3 ms here instead of ~5."""
        searcher = self.index.searcher()
        total = searcher.num_docs
        cache = self._idf_cache
        if cache.get(_DOCS_KEY) != total or len(cache) > IDF_CACHE_TERMS:
            cache.clear()
            cache[_DOCS_KEY] = total
        idfs = {}
        for term in terms:
            idf = cache.get(term)
            if idf is None:
                idf = _bm25_idf(total, max(searcher.doc_freq("title", term), searcher.doc_freq("abstract", term)))
                cache[term] = idf
            idfs[term] = idf
        return idfs

    def _text_idf(self, term: str) -> float:
        """A stem's idf in title or abstract, whichever more papers use it in (close to its idf in either)."""
        return min((idf for idf in (self._idf("title", term), self._idf("abstract", term)) if idf > 0), default=0.0)

    def _query(self, query: ParsedQuery, filters: Filters, title_boost: float = TITLE_BOOST) -> tantivy.Query | None:
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        scoring = [q for term in _meaningful_terms(query.terms) for q in self._term_clauses(term, title_boost)]
        for phrase in query.phrases:
            phrase_query = self._text_query(phrase, title_boost)
            if phrase_query is not None:
                clauses.append((tantivy.Occur.Must, phrase_query))
        restrictions = self._restrictions(query, filters)
        if scoring:
            # One flat OR of (boosted) term queries, not a tree of them: tantivy then skips the documents that
            # cannot reach the top k (block-max WAND), 3-4x faster on common words at 300k papers, same scores.
            words = tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in scoring])
            if not clauses and not restrictions:
                return words
            # Without phrases at least one word must match; with phrases the words only add to the score.
            clauses.append((tantivy.Occur.Should if clauses else tantivy.Occur.Must, words))
        if query.has_text and not clauses:
            return None  # words that analyse to nothing (e.g. only punctuation): nothing can match
        if not clauses:
            clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        clauses.extend(restrictions)
        return tantivy.Query.boolean_query(clauses)

    def _restrictions(self, query: ParsedQuery, filters: Filters) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        """Non-scoring clauses: filters as zero-score musts, exclusions as must-nots."""
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for excluded in (*query.excluded_terms, *query.excluded_phrases):
            excluded_query = self._text_query(excluded)
            if excluded_query is not None:
                clauses.append((tantivy.Occur.MustNot, excluded_query))
        for name in filters.authors:
            clauses.append((tantivy.Occur.Must, _zero(self._names_query(name) or tantivy.Query.empty_query())))
        if filters.categories:
            terms = sorted({c.lower() for c in filters.categories})
            clauses.append((tantivy.Occur.Must, _zero(tantivy.Query.term_set_query(self.schema, "categories", terms))))
        since = _day_start(filters.since) if filters.since and filters.since > _MIN_DAY else None
        until = _day_start(filters.until + timedelta(days=1)) if filters.until and filters.until < _MAX_DAY else None
        if since or until:
            dates = tantivy.Query.range_query(
                self.schema, "published", tantivy.FieldType.Date, since, until, include_upper=until is None
            )
            clauses.append((tantivy.Occur.Must, _zero(dates)))
        return clauses

    def _term_clauses(self, term: str, title_boost: float = TITLE_BOOST) -> list[tantivy.Query]:
        """One free word's scoring clauses: its literal terms in title/abstract/authors, plus its sub-words in
        title words, to be OR-ed with the other words' clauses into one flat query.

        Sub-word hits score constants, not BM25: a title has many sub-words, and length normalisation would rank
        a short title with one part of "AgentFormer" above a longer title with both. Each query part counts once
        (the better of part and affix): a real part of a title word scores more than a prefix or suffix. The
        parts also count, weakly, in the abstract, to order titles that tie on sub-words by what they are about.

        Speed: tantivy skips the papers that cannot reach the top k (block-max WAND) only in a flat union of term
        queries, 2-4x faster on common words. So words whose parts are words of their own are made of terms:
        - a plain word ("agents") has one sub-word, itself, and a word written with separators ("stem-cell",
          "Vision-Language-Action") has parts that are ordinary words; their part and affix clauses are term
          queries boosted by constant / idf, which score the constant for a title of average length (more for
          shorter titles, less for longer ones), and a separated word's parts are matched as separate words,
          as Lucene does, not as a phrase (a title that writes it the same way, "stem-cell", still scores more
          through its whole-word part "stemcell");
        - a camel-case or letter-digit compound ("AgentFormer", "Sall4") keeps exact constant-score clauses, so
          titles with both its parts come before titles with one; such words are rare in queries.
        """
        subwords = analysis.query_subwords(term)
        fields = (("title_parts", PART_SCORE), ("title_affixes", AFFIX_SCORE))
        separated = _SEPARATOR.search(term) is not None
        if len(subwords) == 1 or separated:
            clauses = self._literal_clauses(term, title_boost, apart=separated)
            for i, sub in enumerate(subwords):
                factor = WHOLE_FACTOR if i == 0 and len(subwords) > 1 else 1.0
                for field, score in fields:
                    idf = self._idf(field, sub)
                    if idf > 0:
                        term_query = tantivy.Query.term_query(self.schema, field, sub)
                        clauses.append(tantivy.Query.boost_query(term_query, score * factor / idf))
            return clauses
        clauses = self._literal_clauses(term, title_boost)
        for i, sub in enumerate(subwords):
            factor = WHOLE_FACTOR if i == 0 else 1.0
            either = [
                tantivy.Query.const_score_query(tantivy.Query.term_query(self.schema, field, sub), score * factor)
                for field, score in fields
            ]
            clauses.append(tantivy.Query.disjunction_max_query(either))
        for stem in dict.fromkeys(s for sub in subwords[1:] for s in analysis.analyze(sub)):
            clauses.append(
                tantivy.Query.boost_query(tantivy.Query.term_query(self.schema, "abstract", stem), PART_BOOST)
            )
        return clauses

    def _idf(self, field: str, term: str) -> float:
        """BM25's inverse document frequency of a term, as tantivy computes it; 0.0 when no paper has it."""
        searcher = self.index.searcher()
        return _bm25_idf(searcher.num_docs, searcher.doc_freq(field, term))

    def _literal_clauses(self, text: str, title_boost: float = TITLE_BOOST, apart: bool = False) -> list[tantivy.Query]:
        """Text as written in title, abstract or authors: one term, or a phrase when it analyses to several
        (``apart=True``: each of its words as a term of its own, for a word written with separators)."""
        stems = analysis.analyze(text)
        names = analysis.analyze_names(text)
        clauses: list[tantivy.Query] = []
        for field, words, boost in (
            ("title", stems, title_boost),
            ("abstract", stems, ABSTRACT_BOOST),
            ("authors", names, AUTHORS_BOOST),
        ):
            if not words:
                continue
            queries = [self._words(field, [w]) for w in dict.fromkeys(words)] if apart else [self._words(field, words)]
            clauses += [tantivy.Query.boost_query(q, boost) for q in queries]
        return clauses

    def _text_query(self, text: str, title_boost: float = TITLE_BOOST) -> tantivy.Query | None:
        """Text as written in title, abstract or authors, as one query (for phrases and exclusions)."""
        fields = self._literal_clauses(text, title_boost)
        if not fields:
            return None
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in fields])

    def _names_query(self, text: str) -> tantivy.Query | None:
        words = analysis.analyze_names(text)
        return self._words("authors", words) if words else None

    def _words(self, field: str, words: list[str]) -> tantivy.Query:
        if len(words) == 1:
            return tantivy.Query.term_query(self.schema, field, words[0])
        return tantivy.Query.phrase_query(self.schema, field, words)


def _bm25_idf(papers: int, found: int) -> float:
    """BM25's inverse document frequency, as tantivy computes it, of a term ``found`` in that many of ``papers``;
    0.0 for a term no paper has."""
    return math.log(1.0 + (papers - found + 0.5) / (found + 0.5)) if found else 0.0


def _zero(query: tantivy.Query) -> tantivy.Query:
    return tantivy.Query.const_score_query(query, 0.0)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _category_terms(categories: Iterable[str]) -> list[str]:
    """cs.CL is found by cat:cs.CL and by cat:cs; matching ignores case."""
    terms: dict[str, None] = {}
    for category in categories:
        folded = category.strip().lower()
        if folded:
            terms.setdefault(folded, None)
            terms.setdefault(folded.split(".", 1)[0], None)
    return list(terms)


def _meaningful_terms(terms: Iterable[str]) -> list[str]:
    """Drop stop words unless nothing else is left (a search for "the who" still searches)."""
    terms = list(terms)
    kept = [t for t in terms if t.lower() not in analysis.STOP_WORDS]
    return kept or terms


class Highlighter:
    """Marks the query's matches in a title or abstract with ``<mark>``; everything else is HTML-escaped.

    Words match by stem (as the index does), phrases only where the whole phrase occurs, and in titles a query
    word's sub-words also mark the matching part of a compound (Kwai<mark>Agent</mark>s for "AgentFormer").
    """

    def __init__(self, query: ParsedQuery) -> None:
        self.stems = {stem for term in _meaningful_terms(query.terms) for stem in analysis.analyze(term)}
        self.phrases = [stems for p in query.phrases if len(stems := analysis.analyze(p)) > 0]
        self.subwords = {sub for term in _meaningful_terms(query.terms) for sub in analysis.query_subwords(term)}

    def title(self, text: str) -> str:
        return self._mark(text, subwords=True)

    def abstract(self, text: str) -> str:
        return self._mark(text, subwords=False)

    def _mark(self, text: str, subwords: bool) -> str:
        tokens = analysis.token_spans(text)
        spans: list[tuple[int, int]] = []
        marked = [token[2] in self.stems for token in tokens]
        for stems in self.phrases:
            width = len(stems)
            for i in range(len(tokens) - width + 1):
                if all(tokens[i + k][2] == stems[k] for k in range(width)):
                    for k in range(width):
                        marked[i + k] = True
        for i, (start, end, _term) in enumerate(tokens):
            if marked[i]:
                spans.append((start, end))
            elif subwords and self.subwords:
                spans.extend(_subword_spans(text[start:end], start, self.subwords))
        return _render(text, _merge(text, spans))


def _subword_spans(word: str, offset: int, wanted: set[str]) -> list[tuple[int, int]]:
    """Where in ``word`` the wanted sub-words sit (longest first, not overlapping)."""
    matched = analysis.word_subwords(word) & wanted
    if not matched:
        return []
    lowered = word.lower()
    if len(lowered) != len(word):
        return [(offset, offset + len(word))]
    spans: list[tuple[int, int]] = []
    for sub in sorted(matched, key=len, reverse=True):
        at = lowered.find(sub)
        if at < 0:
            return [(offset, offset + len(word))]  # folding changed the letters: mark the whole word
        if all(at + len(sub) <= s or at >= e for s, e in spans):
            spans.append((at, at + len(sub)))
    return [(offset + s, offset + e) for s, e in sorted(spans)]


def _merge(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans; neighbours separated by a space or a hyphen ("Multi-Agent Code") become one mark."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        gap = text[merged[-1][1] : start] if merged else ""
        if merged and (start <= merged[-1][1] or gap == "-" or (gap and gap.isspace())):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _render(text: str, spans: list[tuple[int, int]]) -> str:
    out: list[str] = []
    position = 0
    for start, end in spans:
        out.append(html.escape(text[position:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        position = end
    out.append(html.escape(text[position:]))
    return "".join(out)
