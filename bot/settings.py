"""Settings from the environment and `.env` (pydantic-settings); every name is listed in `.env.example`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service reads from its environment, with embedded defaults for a laptop."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field("sqlite+aiosqlite:///./htx.db", alias="HTX_DATABASE_URL")
    host: str = Field("127.0.0.1", alias="HTX_HOST")
    port: int = Field(8080, alias="HTX_PORT")
    admin_token: str | None = Field(None, alias="HTX_ADMIN_TOKEN")
    default_locale: str = Field("vi", alias="HTX_DEFAULT_LOCALE")
    log_level: str = Field("INFO", alias="HTX_LOG_LEVEL")
    load_demo: bool = Field(True, alias="HTX_LOAD_DEMO")
