"""Lexical engines compared on one corpus: tantivy, bm25s, SQLite FTS5, and paperboy's own LexicalIndex.

Run: `.venv/bin/python bench/lexical_engines.py [--docs 100000] [--queries 500]` (or `make bench`).

The corpus is generated from the ~9,900 real HF daily-papers abstracts in ../shared/data: each document takes a
real title and 4-9 sentences drawn from different real abstracts, so vocabulary, sentence length and term
frequencies are real while the documents are new. Queries are 2-4 content words of real titles, OR-ed and ranked
by BM25, top 10 ("hard" queries: the 4 most frequent content words, matching most of the corpus). Each engine
runs in its own process, so its memory is its own: "index RSS" is resident memory after building and querying
minus before (the corpus itself excluded), "peak RSS" includes the corpus (~1.5 KB per document, parsed from
JSON); the corpus file is written once and reused.

Rows: `tantivy` is bare tantivy (English stemming, title boosted); `paperboy` is LexicalIndex (tantivy plus the
title sub-word fields, Python-side query building, no highlighting), i.e. the cost of what search really does.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "bench" / "out"
ENGINES = ("tantivy", "paperboy", "bm25s", "fts5")
STOP = {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "of", "on", "or"}
STOP |= {"that", "the", "this", "to", "we", "with", "via", "our"}


def real_texts() -> tuple[list[str], list[str]]:
    sys.path.insert(0, str(REPO))
    from paperboy.domain import Record
    from paperboy.sources import hf_daily

    titles, sentences = [], []
    for item in hf_daily.read_path(SHARED / "hf_daily_papers" / "raw"):
        if isinstance(item, Record) and item.paper.abstract:
            titles.append(item.paper.title)
            sentences += [s for s in re.split(r"(?<=[.!?])\s+", item.paper.abstract) if len(s) > 20]
    return titles, sentences


def make_corpus(docs: int, queries: int) -> Path:
    path = OUT / f"lexical-{docs}-{queries}.json"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    titles, sentences = real_texts()
    corpus = [
        {"id": f"d{n}", "title": rng.choice(titles), "abstract": " ".join(rng.sample(sentences, rng.randint(4, 9)))}
        for n in range(docs)
    ]
    words = lambda text: [w for w in re.findall(r"[A-Za-z][A-Za-z-]+", text.lower()) if w not in STOP]  # noqa: E731
    counts = Counter(w for doc in corpus[:20000] for w in words(doc["abstract"]))
    frequent = [w for w, _ in counts.most_common(40)]
    plain = []
    while len(plain) < queries:
        candidates = words(rng.choice(titles))
        if len(candidates) >= 2:
            plain.append(" ".join(rng.sample(candidates, min(len(candidates), rng.randint(2, 4)))))
    hard = [" ".join(rng.sample(frequent, 4)) for _ in range(max(1, queries // 5))]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"docs": corpus, "queries": plain, "hard": hard}))
    tmp.rename(path)
    return path


# -- engines: each returns (build seconds, search function) ------------------------------------------------------


def run_tantivy(docs: list[dict[str, str]], folder: Path) -> tuple[float, Callable[[str], list[str]]]:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", tokenizer_name="en_stem")
    builder.add_text_field("abstract", tokenizer_name="en_stem")
    schema = builder.build()
    start = time.perf_counter()
    index = tantivy.Index(schema, path=str(folder))
    writer = index.writer(heap_size=256_000_000)
    for doc in docs:
        writer.add_document(tantivy.Document(id=doc["id"], title=doc["title"], abstract=doc["abstract"]))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    built = time.perf_counter() - start

    def search(text: str) -> list[str]:
        query = index.parse_query_lenient(text, ["title", "abstract"], field_boosts={"title": 2.5})[0]
        searcher = index.searcher()
        return [searcher.doc(address)["id"][0] for _, address in searcher.search(query, 10, count=False).hits]

    return built, search


def run_paperboy(docs: list[dict[str, str]], folder: Path) -> tuple[float, Callable[[str], list[str]]]:
    sys.path.insert(0, str(REPO))
    from paperboy.domain import Paper
    from paperboy.index.lexical import LexicalIndex
    from paperboy.index.query import parse_query

    start = time.perf_counter()
    index = LexicalIndex(folder)
    index.add_or_replace(Paper(id=d["id"], title=d["title"], abstract=d["abstract"]) for d in docs)
    built = time.perf_counter() - start

    def search(text: str) -> list[str]:
        return [hit.paper_id for hit in index.search(parse_query(text), limit=10)]

    return built, search


def run_bm25s(docs: list[dict[str, str]], folder: Path) -> tuple[float, Callable[[str], list[str]]]:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    start = time.perf_counter()
    texts = [f"{d['title']} {d['title']} {d['abstract']}" for d in docs]  # title counted twice: a crude boost
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    built = time.perf_counter() - start
    ids = [d["id"] for d in docs]

    def search(text: str) -> list[str]:
        tokens = bm25s.tokenize([text], stopwords="en", stemmer=stemmer, show_progress=False)
        found, _ = retriever.retrieve(tokens, k=10, show_progress=False, n_threads=1)
        return [ids[i] for i in found[0]]

    return built, search


def run_fts5(docs: list[dict[str, str]], folder: Path) -> tuple[float, Callable[[str], list[str]]]:
    start = time.perf_counter()
    db = sqlite3.connect(folder / "fts.db")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, abstract, tokenize='porter unicode61')")
    db.executemany("INSERT INTO docs VALUES (?, ?, ?)", [(d["id"], d["title"], d["abstract"]) for d in docs])
    db.commit()
    built = time.perf_counter() - start

    def search(text: str) -> list[str]:
        words = [w for w in re.findall(r"\w+", text) if w.lower() not in STOP]
        match = " OR ".join(f'"{w}"' for w in words)
        rows = db.execute("SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 0, 2.5, 1.0) LIMIT 10", (match,))
        return [row[0] for row in rows]

    return built, search


RUNNERS = {"tantivy": run_tantivy, "paperboy": run_paperboy, "bm25s": run_bm25s, "fts5": run_fts5}


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "mean": statistics.fmean(ordered) * 1000}


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(engine: str, corpus_path: Path) -> dict[str, object]:
    """One engine, in this process: build, warm up, time every query."""
    data = json.loads(corpus_path.read_text())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    resident_before = current_rss_mb()
    folder = Path(tempfile.mkdtemp(prefix=f"lexical-{engine}-"))
    try:
        built, search = RUNNERS[engine](data["docs"], folder)
        for text in data["queries"][:20]:
            search(text)
        results: dict[str, object] = {"engine": engine, "build_s": built}
        for kind in ("queries", "hard"):
            times = []
            for text in data[kind]:
                start = time.perf_counter()
                search(text)
                times.append(time.perf_counter() - start)
            results[kind] = percentiles(times)
        results["disk_mb"] = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6
        results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        results["corpus_rss_mb"] = before / 1024
        results["index_rss_mb"] = current_rss_mb() - resident_before
        return results
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--engine", help=argparse.SUPPRESS)  # internal: measure one engine in this process
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(measure(args.engine, Path(args.corpus))))
        return
    corpus = make_corpus(args.docs, args.queries)
    rows = []
    for engine in args.engines.split(","):
        done = subprocess.run(
            [sys.executable, __file__, "--engine", engine, "--corpus", str(corpus)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            print(f"{engine}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"\n{args.docs:,} documents, {args.queries} OR-queries (top 10) + {max(1, args.queries // 5)} hard ones\n")
    header = (
        "| engine | build s | p50 ms | p95 ms | p99 ms | hard p50 ms | hard p99 ms "
        "| index RSS MB | peak RSS MB | disk MB |"
    )
    print(header)
    print("| --- " * (header.count("|") - 1) + "|")
    for r in rows:
        q, h = r["queries"], r["hard"]
        print(
            f"| {r['engine']} | {r['build_s']:.1f} | {q['p50']:.2f} | {q['p95']:.2f} | {q['p99']:.2f} "
            f"| {h['p50']:.2f} | {h['p99']:.2f} | {r['index_rss_mb']:.0f} | {r['peak_rss_mb']:.0f} "
            f"| {r['disk_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
