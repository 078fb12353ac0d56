"""Would reading past all-MiniLM-L6-v2's 256 tokens lift dense search? An experiment on SciFact, kept to re-measure.

Run: ``.venv/bin/python bench/retrieval_long_texts.py`` (embeds SciFact three ways, ~6 min on two cores).

72% of SciFact's papers (title + abstract) are longer than the 256 tokens paperboy embeds (median 317 tokens, 9%
over 512), so their paper vector never sees the end of the abstract, where the findings usually are. This scores
dense search alone (exact cosine, nDCG@10 on the 809 training queries) with paper vectors read

- from the first 256 tokens (what paperboy ships),
- from the first 512 tokens (the model's position limit; it was fine-tuned on 128),
- as the normalised mean of the first window and the tail windows (title + the next 254 - title tokens each),
- as the best window's cosine (one vector per window: ~1.9 vectors per SciFact paper),
- and as that best-window cosine mixed into the first window's.

Measured (stop 13): first 256 tokens 0.658; first 512 tokens 0.661; mean of windows 0.655; best window 0.669;
mixes 0.661-0.668. So a single longer vector barely moves; only a vector per window helps, by ~0.01 alone, which
is what best-sentence vectors gave in ``bench/retrieval_sentences.py`` (whose fusion study puts that kind of gain at
<= 0.01 of hybrid nDCG@10, at ~2x the vectors). Not shipped.
"""

from __future__ import annotations

import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus

from paperboy.index.embed import model_dir, paper_text

WINDOW = 254  # content tokens per window: 256 with [CLS] and [SEP]
TITLE_TOKENS = 60  # at most this much title leads each tail window
CLS, SEP = 101, 102


def embed_ids(embedder: object, sequences: list[list[int]]) -> np.ndarray:
    """Token-id sequences through paperboy's ONNX int8 model (its own batching and pooling), two batches at once."""
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    batches = [order[start : start + 16] for start in range(0, len(order), 16)]
    out = np.empty((len(sequences), 384), dtype=np.float32)

    def run(batch: list[int]) -> None:
        out[batch] = embedder._run_batch([sequences[i] for i in batch])  # type: ignore[attr-defined]

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(run, batches))
    return out


def ndcg_at_10(scores: np.ndarray, doc_ids: list[str], qids: list[str], data: corpus.SciFact) -> float:
    total = 0.0
    for row, qid in enumerate(qids):
        relevant = data.qrels[qid]
        top = np.argsort(-scores[row])[:10]
        dcg = sum(relevant.get(doc_ids[i], 0) / math.log2(rank + 2) for rank, i in enumerate(top))
        ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(relevant.values(), reverse=True)[:10]))
        total += dcg / ideal
    return total / len(qids)


def main() -> None:
    from tokenizers import Tokenizer

    data = corpus.scifact()
    embedder = corpus.embedder()
    embedder._load_onnx()
    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.no_truncation()
    content = [tokenizer.encode(paper_text(d["title"], d["abstract"])).ids[1:-1] for d in data.docs]
    titles = [tokenizer.encode(d["title"]).ids[1:-1][:TITLE_TOKENS] for d in data.docs]
    lengths = np.array([len(c) + 2 for c in content])
    print(
        f"tokens per paper: median {np.median(lengths):.0f}, over 256: {(lengths > 256).mean():.0%}, "
        f"over 512: {(lengths > 512).mean():.0%}"
    )
    doc_ids = [d["id"] for d in data.docs]
    qids = list(data.queries)
    queries = embedder.embed([data.queries[q] for q in qids])

    started = time.perf_counter()
    first = embed_ids(embedder, [[CLS, *c[:WINDOW], SEP] for c in content])
    longer = embed_ids(embedder, [[CLS, *c[:510], SEP] for c in content])
    tails, owners = [], []
    for i, tokens in enumerate(content):
        rest, room = tokens[WINDOW:], WINDOW - len(titles[i])
        while rest:
            tails.append([CLS, *titles[i], *rest[:room], SEP])
            owners.append(i)
            rest = rest[room:]
    tail = embed_ids(embedder, tails)
    print(f"embedded in {time.perf_counter() - started:.0f} s ({len(tails)} tail windows)", file=sys.stderr)

    summed = first.copy()
    np.add.at(summed, np.array(owners), tail)
    mean = summed / np.linalg.norm(summed, axis=1, keepdims=True)
    first_scores = queries @ first.T
    best = first_scores.copy()
    tail_scores = queries @ tail.T
    for k, owner in enumerate(owners):
        best[:, owner] = np.maximum(best[:, owner], tail_scores[:, k])
    rows = [
        ("first 256 tokens (shipped)", first_scores),
        ("first 512 tokens", queries @ longer.T),
        ("mean of 256-token windows", queries @ mean.T),
        ("best 256-token window", best),
        *[(f"first window + {w} x best window", (1 - w) * first_scores + w * best) for w in (0.2, 0.3, 0.5)],
    ]
    print(f"\nSciFact training judgments, {len(qids)} queries, dense search alone (exact)")
    print(f"{'paper vectors read':<40} nDCG@10")
    print("-" * 48)
    for name, scores in rows:
        print(f"{name:<40} {ndcg_at_10(scores, doc_ids, qids, data):7.3f}")


if __name__ == "__main__":
    main()
