"""Shared benchmark data: SciFact in BEIR form, the ~15k real abstracts in ../shared, their real embeddings, and large
synthetic corpora recombined from them.

Why synthetic corpora are built this way (DESIGN.md, "Evaluation data"): text from recombined sentences of real
abstracts keeps real vocabulary and term statistics; vectors are normalised mixtures of the two real embeddings a
document's text was drawn from, plus small noise, so they cluster the way real embeddings do. Random Gaussian
vectors would understate ANN recall badly and make HNSW look worse (and brute force no different) than it is.

Everything expensive (embedding the real abstracts) is computed once and cached under ``bench/out/``.
Run directly to fill the cache: ``.venv/bin/python bench/corpus.py``.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
SCIFACT = SHARED / "scifact"
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO))


@dataclass(frozen=True)
class SciFact:
    """BEIR SciFact: documents as paperboy's jsonl source reads them, the training queries and judgments."""

    docs: list[dict[str, str]]  # {"id", "title", "abstract"}
    queries: dict[str, str]  # query id -> text, only those with training judgments
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}


def scifact() -> SciFact:
    """The corpus converted from BEIR's ``_id/title/text`` to the jsonl source's ``id/title/abstract``."""
    if not SCIFACT.exists():
        raise SystemExit(f"SciFact not found at {SCIFACT}: the benchmark needs ../shared/data")
    docs = []
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            raw = json.loads(line)
            docs.append({"id": str(raw["_id"]), "title": raw.get("title") or "", "abstract": raw.get("text") or ""})
    qrels: dict[str, dict[str, int]] = {}
    with (SCIFACT / "qrels" / "train.tsv").open(encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            qid, did, score = line.rstrip("\n").split("\t")
            qrels.setdefault(qid, {})[did] = int(score)
    queries = {}
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            raw = json.loads(line)
            if str(raw["_id"]) in qrels:
                queries[str(raw["_id"])] = raw["text"]
    return SciFact(docs, queries, {q: r for q, r in qrels.items() if q in queries})


def hf_papers() -> list[tuple[str, str]]:
    """(title, abstract) of the ~9,900 real HF daily papers with an abstract."""
    from paperboy.domain import Record
    from paperboy.sources import hf_daily

    seen: set[str] = set()
    papers: list[tuple[str, str]] = []
    for item in hf_daily.read_path(SHARED / "hf_daily_papers" / "raw"):
        if isinstance(item, Record) and item.paper.abstract and item.paper.id not in seen:
            seen.add(item.paper.id)
            papers.append((item.paper.title, item.paper.abstract))
    return papers


def embedder(backend: str = "onnx-int8"):
    from paperboy.index.embed import Embedder

    return Embedder(OUT / "models", backend=backend, batch_size=32)


def embeddings(name: str, papers: list[tuple[str, str]], backend: str = "onnx-int8") -> np.ndarray:
    """paperboy's embeddings (title + abstract) of ``papers``, computed once and cached in bench/out."""
    from paperboy.index.embed import paper_text

    path = OUT / f"embeddings-{name}-{backend}-{len(papers)}.npy"
    if path.exists():
        return np.load(path)
    OUT.mkdir(parents=True, exist_ok=True)
    model = embedder(backend)
    chunks = []
    step = 256
    for start in range(0, len(papers), step):
        chunks.append(model.embed([paper_text(t, a) for t, a in papers[start : start + step]]))
        print(f"{name}: embedded {min(start + step, len(papers))}/{len(papers)}", file=sys.stderr, flush=True)
    matrix = np.concatenate(chunks).astype(np.float32)
    tmp = path.with_name(path.stem + ".tmp.npy")
    np.save(tmp, matrix)
    tmp.rename(path)
    return matrix


def scifact_embeddings(data: SciFact, backend: str = "onnx-int8") -> np.ndarray:
    """Embeddings of the SciFact documents, in ``data.docs`` order."""
    return embeddings("scifact", [(d["title"], d["abstract"]) for d in data.docs], backend)


def real_embeddings(backend: str = "onnx-int8") -> tuple[list[tuple[str, str]], np.ndarray]:
    """The ~15k real papers in ../shared (SciFact, then HF daily) and their embeddings."""
    data = scifact()
    sci = [(d["title"], d["abstract"]) for d in data.docs]
    hf = hf_papers()
    matrix = np.concatenate([scifact_embeddings(data, backend), embeddings("hf-daily", hf, backend)])
    return sci + hf, matrix


def _sentences(abstract: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", abstract) if len(s) > 20] or [abstract]


def synthetic(
    n: int, papers: list[tuple[str, str]], vectors: np.ndarray, seed: int = 7, noise: float = 0.02
) -> Iterator[tuple[list[dict[str, str]], np.ndarray]]:
    """``n`` synthetic papers in batches of (docs, unit vectors).

    Each document mixes two real papers a and b: a's title, 2-5 sentences of a's abstract then 2-4 of b's; its
    vector is normalise(w * v_a + (1 - w) * v_b + noise), w in [0.55, 0.95], so text and vector agree.
    """
    rng = np.random.default_rng(seed)
    sentences = [_sentences(a) for _, a in papers]
    batch = 20_000
    for start in range(0, n, batch):
        size = min(batch, n - start)
        a = rng.integers(0, len(papers), size)
        b = rng.integers(0, len(papers), size)
        w = rng.uniform(0.55, 0.95, size)[:, None].astype(np.float32)
        mixed = w * vectors[a] + (1 - w) * vectors[b]
        mixed += rng.normal(0, noise / np.sqrt(vectors.shape[1]), mixed.shape).astype(np.float32)
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        docs = []
        for i in range(size):
            sa, sb = sentences[a[i]], sentences[b[i]]
            ka, kb = min(len(sa), int(rng.integers(2, 6))), min(len(sb), int(rng.integers(2, 5)))
            text = " ".join(sa[:ka] + [sb[j] for j in sorted(rng.choice(len(sb), kb, replace=False))])
            docs.append({"id": f"s{start + i}", "title": papers[a[i]][0], "abstract": text})
        yield docs, mixed.astype(np.float32)


if __name__ == "__main__":
    found, matrix = real_embeddings()
    print(f"{len(found)} real papers, embeddings {matrix.shape}")
