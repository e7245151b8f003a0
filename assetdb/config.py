"""Settings: data directory and database URL.

Precedence: explicit argument (CLI flag) > environment > config file > default.
The config file is TOML at ``$ASSETDB_CONFIG`` or ``<user config dir>/assetdb/config.toml``
with keys ``data_dir`` and ``database_url`` (and free-form model settings).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assetdb import layout
from assetdb.errors import ConfigError

APP_NAME = "assetdb"


def _config_file() -> Path:
    env = os.environ.get("ASSETDB_CONFIG")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def keyframe_dir(self) -> Path:
        return layout.keyframes_root(self.data_dir)

    @property
    def index_dir(self) -> Path:
        return layout.index_dir(self.data_dir)

    @property
    def model_dir(self) -> Path:
        return layout.model_dir(self.data_dir)

    def ensure_dirs(self) -> None:
        for d in (self.data_dir, self.keyframe_dir, self.index_dir, self.model_dir):
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot use the data directory {self.data_dir}: cannot create {d}: "
                    f"{exc.strerror or exc}"
                ) from None


def load_settings(data_dir: str | Path | None = None, database_url: str | None = None) -> Settings:
    cfg = _read_config_file(_config_file())
    if data_dir is None:
        data_dir = os.environ.get("ASSETDB_DATA_DIR") or cfg.get("data_dir")
    if data_dir is None:
        import platformdirs

        data_dir = platformdirs.user_data_dir(APP_NAME)
    data_path = Path(data_dir).expanduser().resolve()
    if database_url is None:
        database_url = os.environ.get("ASSETDB_DATABASE_URL") or cfg.get("database_url")
    if not database_url:
        database_url = f"sqlite:///{layout.sqlite_path(data_path)}"
    extra = {k: v for k, v in cfg.items() if k not in ("data_dir", "database_url")}
    return Settings(data_dir=data_path, database_url=database_url, extra=extra)
