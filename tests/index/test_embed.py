"""The embedder with the real packaged model, offline: both backends, on real SciFact abstracts and claims."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paperboy.index.embed import DIM, MODEL_NAME, Embedder, onnx_model_path, paper_text


def cached_embedder(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Embedder:
    """An embedder whose exported ONNX files live in one folder for the whole test session (exported once)."""
    return Embedder(cache_dir=tmp_path_factory.getbasetemp() / "models", backend=backend, batch_size=8, threads=2)


def scifact_abstracts(shared_data: Path, count: int) -> list[tuple[str, str]]:
    """The first ``count`` SciFact corpus documents as (id, title. abstract)."""
    found = []
    with gzip.open(shared_data / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            doc = json.loads(line)
            found.append((doc["_id"], paper_text(doc["title"], doc["text"])))
            if len(found) == count:
                break
    return found


@pytest.fixture(scope="session")
def st_embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return cached_embedder(tmp_path_factory, "sentence-transformers")


@pytest.fixture(scope="session")
def int8_embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return cached_embedder(tmp_path_factory, "onnx-int8")


@pytest.fixture(scope="session")
def texts(shared_data: Path) -> list[str]:
    """Real abstracts of very different lengths, plus short query-like texts, to exercise padding and sorting."""
    abstracts = [text for _, text in scifact_abstracts(shared_data, 10)]
    return [*abstracts, "cells", "Vitamin D deficiency and bone fractures", "a"]


@pytest.fixture(scope="session")
def reference(st_embedder: Embedder, texts: list[str]) -> np.ndarray:
    return st_embedder.embed(texts)


def test_reference_model_loads_offline_and_gives_unit_384d_vectors(reference: np.ndarray, texts: list[str]) -> None:
    assert reference.shape == (len(texts), DIM) and reference.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(reference, axis=1), 1.0, atol=1e-5)
    assert len({row.tobytes() for row in reference}) == len(texts)  # no two texts collapse to one vector


@pytest.mark.parametrize(("backend", "floor", "mean"), [("onnx", 0.9999, 0.9999), ("onnx-int8", 0.98, 0.99)])
def test_onnx_paths_agree_with_sentence_transformers(
    backend: str,
    floor: float,
    mean: float,
    texts: list[str],
    reference: np.ndarray,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    vectors = cached_embedder(tmp_path_factory, backend).embed(texts)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.min() > floor and cosines.mean() > mean, cosines  # int8 strays most on one-word texts


def test_order_and_batching_do_not_change_a_vector(tmp_path_factory: pytest.TempPathFactory, texts: list[str]) -> None:
    """Sorting by length and padding must be invisible: in fp32 each text's vector is the one it gets alone."""
    embedder = cached_embedder(tmp_path_factory, "onnx")
    together = embedder.embed(texts)
    np.testing.assert_allclose(embedder.embed(texts[::-1])[::-1], together, atol=1e-5)
    for i in (0, len(texts) - 1):
        np.testing.assert_allclose(embedder.embed_query(texts[i]), together[i], atol=1e-5)


def test_batches_run_side_by_side_land_in_their_own_rows(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str]
) -> None:
    """Batches run on several threads at once: every vector must still land in its text's row, as on one thread."""
    folder = tmp_path_factory.getbasetemp() / "models"
    one = Embedder(cache_dir=folder, backend="onnx", batch_size=2, threads=1).embed(texts)
    many = Embedder(cache_dir=folder, backend="onnx", batch_size=2, threads=3).embed(texts * 3)
    for copy in range(3):
        np.testing.assert_allclose(many[copy * len(texts) : (copy + 1) * len(texts)], one, atol=1e-5)


def test_int8_vectors_depend_on_batch_mates_only_slightly(
    int8_embedder: Embedder, texts: list[str], reference: np.ndarray
) -> None:
    """Dynamic quantisation scales activations per batch, so a vector moves a little with its batch mates, but
    alone or in a batch it stays within int8's own error of the fp32 vector. (Two int8 vectors of one text can lie
    on opposite sides of the reference, so they are compared with it, not with each other: on a one-letter text
    they differ by ~0.02 on some CPUs while each is still > 0.98 from the reference.)"""
    together = int8_embedder.embed(texts)
    alone = np.stack([int8_embedder.embed_query(text) for text in texts])
    assert (together * reference).sum(axis=1).min() > 0.98
    assert (alone * reference).sum(axis=1).min() > 0.98
    abstracts = slice(0, 10)  # real abstracts: batch mates barely matter
    assert (alone[abstracts] * together[abstracts]).sum(axis=1).min() > 0.99


def test_claims_are_closer_to_the_abstracts_that_answer_them(int8_embedder: Embedder, shared_data: Path) -> None:
    """On real SciFact judgments: a claim is nearer its judged abstract than most other abstracts."""
    docs = dict(scifact_abstracts(shared_data, 5183))
    claims = {}
    with (shared_data / "scifact" / "queries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            query = json.loads(line)
            claims[query["_id"]] = query["text"]
    pairs: list[tuple[str, str]] = []
    with (shared_data / "scifact" / "qrels" / "train.tsv").open(encoding="utf-8") as lines:
        for line in list(lines)[1:]:
            query_id, doc_id, _ = line.rstrip("\n").split("\t")
            if doc_id in docs and query_id in claims and len(pairs) < 8:
                pairs.append((query_id, doc_id))
    assert len(pairs) == 8
    distractors = [text for doc_id, text in list(docs.items())[:24] if doc_id not in {d for _, d in pairs}]
    claim_vectors = int8_embedder.embed([claims[q] for q, _ in pairs])
    judged = int8_embedder.embed([docs[d] for _, d in pairs])
    others = int8_embedder.embed(distractors)
    for i in range(len(pairs)):
        related = float(claim_vectors[i] @ judged[i])
        unrelated = others @ claim_vectors[i]
        assert related > np.median(unrelated) + 0.1, (pairs[i], related, np.median(unrelated))


def test_model_id_names_the_numeric_path(tmp_path: Path) -> None:
    assert Embedder(tmp_path, "sentence-transformers").model_id == MODEL_NAME
    assert Embedder(tmp_path, "onnx").model_id == MODEL_NAME  # identical output to the reference
    assert Embedder(tmp_path, "onnx-int8").model_id != MODEL_NAME
    with pytest.raises(ValueError, match="onnx-int8"):
        Embedder(tmp_path, "word2vec")


def test_nothing_to_embed_costs_nothing(tmp_path: Path) -> None:
    embedder = Embedder(tmp_path / "never-created", "onnx-int8")
    assert embedder.embed([]).shape == (0, DIM)
    assert not (tmp_path / "never-created").exists()  # the model was not even exported


def test_paper_text_joins_title_and_abstract() -> None:
    assert paper_text("A title", "An abstract.") == "A title. An abstract."
    assert paper_text("  A title ", "") == "A title"
    assert paper_text("", "Only an abstract.") == "Only an abstract."


def test_processes_quantising_the_model_at_once_all_succeed(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """``paperboy serve`` and ``paperboy worker`` started together on a fresh machine both quantise the model.
    onnxruntime's scratch file beside the source used to be deleted under the other's feet."""
    fp32 = onnx_model_path(tmp_path_factory.getbasetemp() / "models", quantized=False)
    folder = tmp_path / fp32.parent.name
    folder.mkdir()
    shutil.copyfile(fp32, folder / "model.onnx")
    code = "import sys; from pathlib import Path; from paperboy.index.embed import onnx_model_path as p; "
    code += "print(p(Path(sys.argv[1]), quantized=True))"
    runs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    outcomes = [(run.wait(timeout=300), run.stderr.read().decode()[-800:] if run.stderr else "") for run in runs]
    assert [code for code, _ in outcomes] == [0, 0, 0], [err for code, err in outcomes if code]
    assert sorted(p.name for p in folder.iterdir()) == ["model.int8-per-channel-matmul.onnx", "model.onnx"]
