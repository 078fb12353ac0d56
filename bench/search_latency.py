"""Search latency and memory at scale: paperboy's lexical, dense and hybrid search next to SQLite FTS5 and brute-force
numpy, on the same synthetic corpus.

Run: `.venv/bin/python bench/search_latency.py --docs 100000` (and `--docs 1000000`; building takes a while, and the
built indexes are kept in bench/out/latency-N/ for re-runs; `--rebuild` starts over).

Corpus (bench/corpus.py): documents recombined from sentences of the ~15k real abstracts in ../shared, vectors the
normalised mixtures of the two real embeddings each document was drawn from, plus small noise (never random
Gaussian vectors, which understate ANN recall). Queries: real SciFact claims and 2-4 words of real titles.

Each row is measured in its own fresh process that loads the built index from disk, so "index RSS" is the memory
that serving it costs (resident set after loading and querying, minus before) and "peak RSS" the process's maximum.
Hybrid embeds every query with paperboy's query embedder (ONNX int8) and includes that in its latency, and reads
its best candidates' texts for coverage and the re-ranker from texts.db (SQLite by primary key, as from the
store); "fused" is the same without the learned re-ranker (paperboy/index/rerank.py), to show its cost; "dense"
is given the query vectors pre-computed, so dense vs numpy compares search alone. "recall@10" compares dense
top-10 with the exact top-10 from brute force, over all queries (reading those exact vectors is what the dense
row's peak includes).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus

ROWS = ("lexical", "dense", "fused", "hybrid", "fts5", "numpy")
QUERIES = 300
WARMUP = 10


def folder_for(docs: int) -> Path:
    return corpus.OUT / f"latency-{docs}"


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return 0.0


def rss_mb() -> float:
    return _status_mb("VmRSS:")


def peak_mb() -> float:
    """This process's high-water mark (VmHWM; ru_maxrss would carry the parent's peak across fork + exec)."""
    return _status_mb("VmHWM:")


# -- building ------------------------------------------------------------------------------------------------------


def build(docs: int) -> None:
    """Generate the corpus and write every index to the folder (skipped if it is complete)."""
    folder = folder_for(docs)
    if (folder / "done.json").exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    from paperboy.domain import Paper
    from paperboy.index.hybrid import HybridSearcher  # noqa: F401  (loads onnxruntime before usearch)
    from paperboy.index.lexical import LexicalIndex
    from paperboy.index.vectors import VectorIndex

    papers, real = corpus.real_embeddings()
    started = time.perf_counter()
    lexical = LexicalIndex(folder / "lexical")
    vectors = VectorIndex(folder / "vectors", model="bench")
    matrix = np.lib.format.open_memmap(folder / "vectors.npy", mode="w+", dtype=np.float32, shape=(docs, real.shape[1]))
    fts = sqlite3.connect(folder / "fts5.db")
    fts.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, abstract, tokenize='porter')")
    ids: list[str] = []
    timings = {"lexical": 0.0, "vectors": 0.0, "fts5": 0.0}
    for batch_docs, batch_vectors in corpus.synthetic(docs, papers, real):
        start = len(ids)
        ids += [d["id"] for d in batch_docs]
        matrix[start : start + len(batch_docs)] = batch_vectors
        t = time.perf_counter()
        lexical.add_or_replace(Paper(id=d["id"], title=d["title"], abstract=d["abstract"]) for d in batch_docs)
        timings["lexical"] += time.perf_counter() - t
        t = time.perf_counter()
        vectors.upsert([d["id"] for d in batch_docs], batch_vectors)
        timings["vectors"] += time.perf_counter() - t
        t = time.perf_counter()
        fts.executemany("INSERT INTO docs VALUES (?, ?, ?)", [(d["id"], d["title"], d["abstract"]) for d in batch_docs])
        fts.commit()
        timings["fts5"] += time.perf_counter() - t
        print(f"built {len(ids):,}/{docs:,} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    vectors.save()
    matrix.flush()
    (folder / "ids.json").write_text(json.dumps(ids))
    data = corpus.scifact()
    rng = random.Random(3)
    claims = rng.sample(list(data.queries.values()), QUERIES // 2)
    stop = {"a", "an", "and", "for", "from", "in", "of", "on", "the", "to", "with", "via", "by", "is", "are"}
    keywords = []
    while len(keywords) < QUERIES - len(claims):
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9-]+", rng.choice(papers)[0]) if w.lower() not in stop]
        if len(words) >= 2:
            keywords.append(" ".join(rng.sample(words, min(len(words), rng.randint(2, 4)))))
    queries = claims + keywords
    rng.shuffle(queries)
    embedder = corpus.embedder()
    np.save(folder / "query_vectors.npy", embedder.embed(queries))
    (folder / "queries.json").write_text(json.dumps(queries))
    (folder / "done.json").write_text(json.dumps({"build_seconds": timings, "docs": docs}))


def write_texts(folder: Path) -> None:
    """texts.db: each document's title and abstract by id, the stand-in for the store that hybrid search reads
    coverage from (paperboy.index.service.stored_texts). Copied from the FTS5 table, whose ids are not indexed."""
    target = folder / "texts.db"
    if target.exists():
        return
    partial = folder / "texts.db.partial"
    partial.unlink(missing_ok=True)
    conn = sqlite3.connect(partial)
    conn.execute("CREATE TABLE papers (id TEXT PRIMARY KEY, text TEXT NOT NULL) WITHOUT ROWID")
    conn.execute("ATTACH DATABASE ? AS fts", (str(folder / "fts5.db"),))
    conn.execute("INSERT INTO papers SELECT id, title || char(10) || abstract FROM fts.docs")
    conn.commit()
    conn.close()
    partial.rename(target)


def texts_lookup(folder: Path) -> Callable[[Collection[str]], dict[str, str]]:
    conn = sqlite3.connect(folder / "texts.db", check_same_thread=False)

    def texts(ids: Collection[str]) -> dict[str, str]:
        marks = ",".join("?" * len(ids))
        return dict(conn.execute(f"SELECT id, text FROM papers WHERE id IN ({marks})", list(ids)).fetchall())

    return texts


def exact_top10(exact: np.ndarray, queries: np.ndarray, chunk: int = 100_000) -> list[set[int]]:
    """Every query's exact top 10 (row numbers), streamed over the stored vectors a chunk at a time."""
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 10), dtype=np.int64)
    for start in range(0, exact.shape[0], chunk):
        block = np.asarray(exact[start : start + chunk])
        fresh_rows = np.broadcast_to(np.arange(start, start + len(block)), (len(queries), len(block)))
        scores = np.concatenate([best_scores, queries @ block.T], axis=1)
        rows = np.concatenate([best_rows, fresh_rows], axis=1)
        keep = np.argpartition(-scores, 9, axis=1)[:, :10]
        best_scores = np.take_along_axis(scores, keep, axis=1)
        best_rows = np.take_along_axis(rows, keep, axis=1)
    return [set(row.tolist()) for row in best_rows]


# -- measuring (one row per process) -------------------------------------------------------------------------------


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "mean": 1000 * statistics.fmean(ordered)}


def measure(row: str, docs: int) -> dict[str, object]:
    folder = folder_for(docs)
    queries: list[str] = json.loads((folder / "queries.json").read_text())
    qvecs = np.load(folder / "query_vectors.npy")
    before = rss_mb()
    extra: dict[str, object] = {}
    search: Callable[[int], object]
    if row in ("lexical", "dense", "fused", "hybrid"):
        from paperboy.index.hybrid import HybridSearcher
        from paperboy.index.lexical import LexicalIndex
        from paperboy.index.query import parse_query
        from paperboy.index.vectors import VectorIndex

        lexical = LexicalIndex(folder / "lexical")
        vectors = VectorIndex(folder / "vectors", model="bench") if row != "lexical" else None
        parsed = [parse_query(q) for q in queries]
        if row in ("fused", "hybrid"):
            from paperboy.index import rerank

            embedder = corpus.embedder()
            embedder.batch_size = 1
            embedder.embed_query("warm up")
            reranker = rerank.shipped() if row == "hybrid" else None
            searcher = HybridSearcher(
                lexical, vectors, embedder.embed_query, texts=texts_lookup(folder), reranker=reranker
            )

            def search(i: int) -> object:
                return searcher.search(parsed[i], 10)

        elif row == "lexical":

            def search(i: int) -> object:
                return lexical.search(parsed[i], 10)

        else:
            assert vectors is not None
            exact = np.load(folder / "vectors.npy", mmap_mode="r")
            found = [vectors.search(qvecs[i], 10) for i in range(len(queries))]
            truth = exact_top10(exact, qvecs)
            hits = [len(truth[i] & {int(pid[1:]) for pid, _ in found[i]}) / 10 for i in range(len(found))]
            extra["recall@10"] = round(float(np.mean(hits)), 3)
            del exact

            def search(i: int) -> object:
                return vectors.search(qvecs[i], 10)

    elif row == "fts5":
        conn = sqlite3.connect(folder / "fts5.db")
        terms = [" OR ".join(f'"{w}"' for w in re.findall(r"[A-Za-z0-9]+", q.lower())) or '""' for q in queries]

        def search(i: int) -> object:
            sql = "SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 2.5, 1.0) LIMIT 10"
            return conn.execute(sql, (terms[i],)).fetchall()

    else:
        matrix = np.load(folder / "vectors.npy")

        def search(i: int) -> object:
            scores = matrix @ qvecs[i]
            top = np.argpartition(-scores, 10)[:10]
            return top[np.argsort(-scores[top])]

    for i in range(WARMUP):
        search(i)
    samples = []
    for i in range(len(queries)):
        t = time.perf_counter()
        search(i)
        samples.append(time.perf_counter() - t)
    return {"row": row, **percentiles(samples), "index_rss_mb": rss_mb() - before, "peak_rss_mb": peak_mb(), **extra}


def disk_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--measure", choices=ROWS, help=argparse.SUPPRESS)  # internal: one row in this process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.docs)))
        return
    if args.rebuild:
        shutil.rmtree(folder_for(args.docs), ignore_errors=True)
    build(args.docs)
    folder = folder_for(args.docs)
    write_texts(folder)  # here, not in build: corpora built before texts.db existed get it too
    built = json.loads((folder / "done.json").read_text())
    results = []
    for row in ROWS:
        done = subprocess.run(
            [sys.executable, __file__, "--docs", str(args.docs), "--measure", row], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"{row} failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    sizes = {
        "lexical": disk_mb(folder / "lexical"),
        "dense": disk_mb(folder / "vectors"),
        "fused": disk_mb(folder / "lexical") + disk_mb(folder / "vectors"),
        "hybrid": disk_mb(folder / "lexical") + disk_mb(folder / "vectors"),
        "fts5": disk_mb(folder / "fts5.db"),
        "numpy": disk_mb(folder / "vectors.npy"),
    }
    labels = {
        "lexical": "paperboy lexical (tantivy BM25 + sub-words)",
        "dense": "paperboy dense (usearch HNSW f16, vector given)",
        "fused": "paperboy hybrid, fused only (no re-ranker)",
        "hybrid": "paperboy hybrid, shipped (query embedding included)",
        "fts5": "SQLite FTS5 ranked OR-query (baseline)",
        "numpy": "brute-force numpy f32 (baseline)",
    }
    print()
    print(f"{args.docs:,} papers, {len(json.loads((folder / 'queries.json').read_text()))} queries, top 10")
    print(f"build seconds: {', '.join(f'{k} {v:.0f}' for k, v in built['build_seconds'].items())}")
    header = f"{'search':<50} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'index RSS MB':>12} {'peak MB':>8}"
    header += f" {'disk MB':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        row = str(r["row"])
        print(
            f"{labels[row]:<50} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['p99']:>7.1f} {r['index_rss_mb']:>12.0f} "
            f"{r['peak_rss_mb']:>8.0f} {sizes[row]:>8.0f}"
        )
    recall = next((r.get("recall@10") for r in results if r["row"] == "dense"), None)
    print(f"dense recall@10 against exact search: {recall}")


if __name__ == "__main__":
    main()
