"""Ingestion knobs: command-line flags, then environment (INGEST_*), then an optional TOML file, then defaults."""

from __future__ import annotations

import os
from datetime import date, time
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = Path("ingestion.toml")
CONFIG_ENV = "INGESTION_CONFIG"


class IngestionConfig(BaseSettings):
    """Schedules and batch sizes for jobs and the worker. Times are New York wall-clock times."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")

    # Daily bars: weekdays after the US close (the job itself skips non-sessions by the NYSE calendar).
    prices_at: time = time(17, 15)
    # Intraday quotes: every N minutes while the NYSE is open (by the trading calendar, half-days included).
    quotes_every_minutes: int = Field(default=5, ge=1, le=60)
    macro_at: time = time(18, 0)
    reference_day: str = "sat"
    reference_at: time = time(6, 0)
    # Option chains (the `options` job): before the close, while Yahoo still quotes bid and ask.
    options_at: time = time(15, 45)

    chunk_symbols: int = Field(default=25, ge=1, le=500)  # symbols per provider request and write batch
    chunk_series: int = Field(default=10, ge=1, le=200)
    backfill_window_days: int = Field(default=366, ge=7)  # a backfill is fetched and written in windows
    history_start: date = date(2019, 1, 1)  # first fetch of a symbol or series with nothing stored
    price_overlap_days: int = Field(default=5, ge=0)  # re-read the last days: late corrections get in
    macro_overlap_days: int = Field(default=120, ge=0)  # FRED revises recent months
    reference_lookback_days: int = Field(default=3650, ge=1)

    @field_validator("reference_day")
    @classmethod
    def _weekday(cls, value: str) -> str:
        days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        if value.lower()[:3] not in days:
            raise ValueError(f"reference_day must be one of {', '.join(days)}")
        return value.lower()[:3]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _toml_file
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


_toml_file: Path | None = None


class ConfigFileError(ValueError):
    """The TOML file named by --config or INGESTION_CONFIG is missing or invalid."""


def load_config(path: str | Path | None = None, **flags: Any) -> IngestionConfig:
    """Flags (non-None keyword arguments) win over INGEST_* variables, which win over the TOML file.

    The file is `path`, else $INGESTION_CONFIG, else ./ingestion.toml when it exists; a file that was named
    explicitly must exist.
    """
    global _toml_file
    named = path or os.environ.get(CONFIG_ENV)
    file: Path | None
    if named:
        file = Path(named)
        if not file.is_file():
            raise ConfigFileError(f"configuration file {file} does not exist")
    else:
        file = DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None
    _toml_file = file
    try:
        return IngestionConfig(**{k: v for k, v in flags.items() if v is not None})
    except ValueError as exc:
        where = f" (file {file})" if file else ""
        raise ConfigFileError(f"invalid ingestion configuration{where}: {exc}") from None
    finally:
        _toml_file = None
