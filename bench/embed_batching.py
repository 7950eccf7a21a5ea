"""How much batching can gain for the ONNX embedder: model CPU per text, one text per call against batches.

`bench/ai_bench.py` measures the service path (MicroBatcher, concurrent callers) against one call per text; this
measures the model alone, with no batcher or event loop in between, so it shows the ceiling: the CPU a text costs
when the per-call overhead is spread over a batch. Same short English texts as ai_bench, after a warm-up, one
intra-op thread (EMBED_THREADS=1, as on shared cores), CPU seconds of this process (they do not stretch with
other jobs' load).

Run:  .venv/bin/python bench/embed_batching.py [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from ai_bench import corpus  # noqa: E402

from app.ai.embeddings import Embedder  # noqa: E402


def cpu_per_text(embedder: Embedder, texts: list[str], batch: int) -> float:
    started = time.process_time()
    for i in range(0, len(texts), batch):
        embedder.encode(texts[i : i + batch])
    return (time.process_time() - started) / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    embedder = Embedder(args.threads)
    texts = corpus(256, seed=args.threads)
    embedder.encode(texts[:8])  # warm up
    one = cpu_per_text(embedder, texts[:64], 1)
    tokens = sorted(len(e.ids) for e in embedder.tokenizer.encode_batch(texts))
    print(f"texts of {tokens[0]}-{tokens[-1]} tokens, {args.threads} intra-op thread(s)")
    print("| texts per model call | model CPU ms per text | gain over one per call |")
    print("|---|---|---|")
    print(f"| 1 | {one * 1e3:.2f} | 1.00x |")
    for batch in (8, 16, 32, 64, 256):
        per_text = cpu_per_text(embedder, texts, batch)
        print(f"| {batch} | {per_text * 1e3:.2f} | {one / per_text:.2f}x |")


if __name__ == "__main__":
    main()
