"""Which platform channels this process runs, built from settings: a channel without credentials is off."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from bot.tokens import DatabaseTokenStore
from channels.base import Channel
from channels.messenger import MessengerChannel
from channels.telegram import TelegramChannel
from channels.zalo import ZaloChannel, pair_from_env

PLATFORMS = ("telegram", "messenger", "zalo")


def missing_credentials(settings: Settings) -> dict[str, list[str]]:
    """For each platform, the settings it still lacks (empty: the channel is on)."""
    needed = {
        "telegram": {
            "TELEGRAM_BOT_TOKEN": settings.telegram_bot_token,
            "TELEGRAM_WEBHOOK_SECRET": settings.telegram_webhook_secret,
        },
        "messenger": {
            "MESSENGER_APP_SECRET": settings.messenger_app_secret,
            "MESSENGER_VERIFY_TOKEN": settings.messenger_verify_token,
            "MESSENGER_PAGE_TOKEN": settings.messenger_page_token,
        },
        "zalo": {
            "ZALO_APP_ID": settings.zalo_app_id,
            "ZALO_OA_SECRET_KEY": settings.zalo_oa_secret_key,
            "ZALO_APP_SECRET": settings.zalo_app_secret,
            "ZALO_ACCESS_TOKEN or ZALO_REFRESH_TOKEN": settings.zalo_access_token or settings.zalo_refresh_token,
        },
    }
    return {platform: [name for name, value in values.items() if not value] for platform, values in needed.items()}


def build_channels(settings: Settings, sessions: Callable[[], async_sessionmaker[AsyncSession]]) -> dict[str, Channel]:
    """The channels whose credentials are all present; `sessions` is read when Zalo first needs its tokens."""
    missing = missing_credentials(settings)
    channels: dict[str, Channel] = {}
    if not missing["telegram"]:
        assert settings.telegram_bot_token and settings.telegram_webhook_secret
        channels["telegram"] = TelegramChannel(
            settings.telegram_bot_token,
            settings.telegram_webhook_secret,
            settings.telegram_api_base_url,
            settings.public_url,
        )
    if not missing["messenger"]:
        assert settings.messenger_app_secret and settings.messenger_verify_token and settings.messenger_page_token
        channels["messenger"] = MessengerChannel(
            app_secret=settings.messenger_app_secret,
            verify_token=settings.messenger_verify_token,
            page_token=settings.messenger_page_token,
            graph_url=settings.messenger_graph_url,
            public_url=settings.public_url,
        )
    if not missing["zalo"]:
        assert settings.zalo_app_id and settings.zalo_oa_secret_key and settings.zalo_app_secret
        channels["zalo"] = ZaloChannel(
            app_id=settings.zalo_app_id,
            app_secret=settings.zalo_app_secret,
            oa_secret_key=settings.zalo_oa_secret_key,
            token_store=DatabaseTokenStore(sessions, "zalo"),
            initial=pair_from_env(settings.zalo_access_token, settings.zalo_refresh_token),
            api_base_url=settings.zalo_api_base_url,
            oauth_url=settings.zalo_oauth_url,
            public_url=settings.public_url,
            max_event_age=timedelta(minutes=settings.zalo_max_event_age_minutes) or None,
        )
    return channels
