"""The numpy all-MiniLM-L6-v2 encoder gives sentence-transformers' vectors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.model

SENTENCES = [
    "a photo of a dog.",
    "a photo of a German shepherd, German shepherd dog, German police dog, alsatian.",
    "The quick brown fox jumps over the lazy dog",
    "what a beautiful warm day",
    "the weather is lovely and sunny this afternoon",
    "the engine is broken and needs a mechanic",
    "Ich bin ein Berliner",
    "ask not what your country can do for you",
    "InitiateSeorchProgram 00:00:05;00",
    "SCENE 12 TAKE 3 ROLL A007",
    "x",
    "",
    "   leading and trailing spaces   ",
    "naïve café résumé — “quotes” and ümlauts",
    "日本語のテキスト",
    "emoji 🎬🎥 in a title card",
    "tabs\tand\nnewlines",
    "a man walking on a beach at sunset, seagulls overhead, waves breaking",
    "word " * 400,  # longer than 256 tokens: truncated as sentence-transformers does
    "Thank you very much for watching.",
]


def test_vectors_equal_sentence_transformers():
    st = pytest.importorskip("sentence_transformers", reason="reference implementation")
    from assetdb.models.text import DIM, SentenceEncoder, model_dir

    ours = SentenceEncoder.shared().encode(SENTENCES)
    ref = st.SentenceTransformer(str(model_dir()), device="cpu").encode(
        SENTENCES, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    assert ours.shape == (len(SENTENCES), DIM) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)
    cos = (ours * ref).sum(axis=1)
    assert cos.min() > 0.9999, dict(zip(SENTENCES, cos.round(6), strict=True))
    # order and batching do not change a vector
    alone = SentenceEncoder.shared().encode([SENTENCES[3]])
    np.testing.assert_allclose(alone[0], ours[3], atol=1e-5)


def test_empty_input():
    from assetdb.models.text import DIM, SentenceEncoder

    assert SentenceEncoder.shared().encode([]).shape == (0, DIM)


def test_query_encoder_imports_neither_torch_nor_sentence_transformers():
    code = (
        "import sys; from assetdb.models.text import SentenceEncoder; "
        "SentenceEncoder.shared().encode(['a dog on a beach']); "
        "print([m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.stdout.strip() == "[]"
