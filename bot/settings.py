"""Settings from the environment and `.env` (pydantic-settings); every name is listed in `.env.example`."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service reads from its environment (`HTX_` + the field name), with laptop defaults."""

    model_config = SettingsConfigDict(env_prefix="HTX_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./htx.db"
    host: str = "127.0.0.1"
    port: int = 8080
    admin_token: str | None = None
    default_locale: str = "vi"
    log_level: str = "INFO"
    load_demo: bool = True
