"""Settings from the environment and `.env` (pydantic-settings); every name is listed in `.env.example`."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, PositiveFloat, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from orders.payment_deadline import AFTER_HOURS, GRACE_HOURS, Deadline


class Settings(BaseSettings):
    """Everything the service reads from its environment, with laptop defaults; a channel without its
    credentials is simply off."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite+aiosqlite:///./htx.db", alias="HTX_DATABASE_URL")
    host: str = Field("127.0.0.1", alias="HTX_HOST")
    port: int = Field(8080, alias="HTX_PORT")
    public_url: str | None = Field(None, alias="HTX_PUBLIC_URL")
    admin_token: str | None = Field(None, alias="HTX_ADMIN_TOKEN")
    default_locale: str = Field("vi", alias="HTX_DEFAULT_LOCALE")
    log_level: str = Field("INFO", alias="HTX_LOG_LEVEL")
    # text for a terminal, json (one object per line) for production log collectors.
    log_format: Literal["text", "json"] = Field("text", alias="HTX_LOG_FORMAT")
    load_demo: bool = Field(True, alias="HTX_LOAD_DEMO")
    workers: int = Field(2, alias="HTX_WORKERS")
    # Replies to different chats one outbox step sends at once, per platform (two steps run side by side in each
    # process): they overlap their network time; one chat's replies still go one at a time, in order.
    send_batch: int = Field(8, ge=1, alias="HTX_SEND_BATCH")
    # Messages per second each process sends to a platform, as JSON over the defaults of bot/delivery.py (telegram
    # 30, zalo 66.7, messenger 200), e.g. {"telegram": 100} for a bot allowed more; with several processes, divide.
    send_rates: dict[str, PositiveFloat] = Field(default_factory=dict, alias="HTX_SEND_RATES")
    # all: webhooks, pages, API and workers; web: HTTP only (no workers); workers: workers, /healthz and /metrics.
    role: Literal["all", "web", "workers"] = Field("all", alias="HTX_ROLE")
    # On SIGTERM/SIGINT, how long the turn or delivery under way (and an HTTP request in flight) may take to finish.
    shutdown_seconds: float = Field(10.0, ge=0, alias="HTX_SHUTDOWN_SECONDS")
    # Hour (0-23, Vietnam time) from which each day's order summaries go to partners and cooperative owners.
    daily_summary_hour: int | None = Field(18, ge=0, le=23, alias="HTX_DAILY_SUMMARY_HOUR")
    # An unpaid bank-transfer order is reminded this many hours after it was confirmed, then cancelled (its stock
    # released) when the grace hours after the reminder pass without the money (orders/payment_deadline.py).
    payment_deadline_hours: int = Field(AFTER_HOURS, ge=1, alias="HTX_PAYMENT_DEADLINE_HOURS")
    payment_grace_hours: int = Field(GRACE_HOURS, ge=1, alias="HTX_PAYMENT_GRACE_HOURS")
    # Rate limits per process (bot/rate_limit.py), 0 for none: requests a minute from one client IP to the public
    # paths (/web/chat, /api/, /p/), and messages a minute from one chat on any channel.
    rate_limit_ip_per_minute: int = Field(300, ge=0, alias="HTX_RATE_LIMIT_IP_PER_MINUTE")
    rate_limit_chat_per_minute: int = Field(30, ge=0, alias="HTX_RATE_LIMIT_CHAT_PER_MINUTE")
    # Days the inbox and outbox keep handled messages (bot/retention.py); 0 keeps them for ever.
    keep_messages_days: int = Field(30, ge=0, alias="HTX_KEEP_MESSAGES_DAYS")
    # Behind your own reverse proxy: take the client IP from the last X-Forwarded-For entry, which the proxy sets.
    trust_proxy: bool = Field(False, alias="HTX_TRUST_PROXY")

    telegram_bot_token: str | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    telegram_webhook_secret: str | None = Field(None, alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_api_base_url: str = Field("https://api.telegram.org/bot", alias="TELEGRAM_API_BASE_URL")
    # The bot's @username: the "order it in chat" link on traceability pages (bot/trace_page.py); unset: no link.
    telegram_bot_username: str | None = Field(None, alias="TELEGRAM_BOT_USERNAME")

    messenger_app_secret: str | None = Field(None, alias="MESSENGER_APP_SECRET")
    messenger_verify_token: str | None = Field(None, alias="MESSENGER_VERIFY_TOKEN")
    messenger_page_token: str | None = Field(None, alias="MESSENGER_PAGE_TOKEN")
    messenger_graph_url: str = Field("https://graph.facebook.com/v25.0", alias="MESSENGER_GRAPH_URL")
    # The Facebook page id, for https://m.me/<id> links on traceability pages; unset: no link.
    messenger_page_id: str | None = Field(None, alias="MESSENGER_PAGE_ID")

    zalo_app_id: str | None = Field(None, alias="ZALO_APP_ID")
    zalo_oa_secret_key: str | None = Field(None, alias="ZALO_OA_SECRET_KEY")
    zalo_app_secret: str | None = Field(None, alias="ZALO_APP_SECRET")
    zalo_access_token: str | None = Field(None, alias="ZALO_ACCESS_TOKEN")
    zalo_refresh_token: str | None = Field(None, alias="ZALO_REFRESH_TOKEN")
    zalo_api_base_url: str = Field("https://openapi.zalo.me", alias="ZALO_API_BASE_URL")
    zalo_oauth_url: str = Field("https://oauth.zaloapp.com", alias="ZALO_OAUTH_URL")
    # The Official Account id, for https://zalo.me/<id> links on traceability pages; unset: no link.
    zalo_oa_id: str | None = Field(None, alias="ZALO_OA_ID")
    # Signed Zalo events older than this are acknowledged and dropped as replays; 0 turns the check off.
    zalo_max_event_age_minutes: int = Field(120, ge=0, alias="ZALO_MAX_EVENT_AGE_MINUTES")

    # Bank-transfer confirmation webhooks (docs/payments.md); each is off while its key is empty.
    sepay_api_key: str | None = Field(None, alias="SEPAY_API_KEY")
    casso_webhook_key: str | None = Field(None, alias="CASSO_WEBHOOK_KEY")

    @property
    def payment_deadline(self) -> Deadline:
        """When unpaid transfer orders are reminded and cancelled."""
        return Deadline(timedelta(hours=self.payment_deadline_hours), timedelta(hours=self.payment_grace_hours))

    @field_validator("daily_summary_hour", mode="before")
    @classmethod
    def _empty_means_off(cls, value: object) -> object:
        """`HTX_DAILY_SUMMARY_HOUR=` (empty) turns the daily summary off."""
        return None if isinstance(value, str) and not value.strip() else value
