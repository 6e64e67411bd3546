"""`htx partner ...`: load partners' rules, link their chats, issue API tokens, set their webhooks."""

from __future__ import annotations

import argparse
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import make_engine, make_sessionmaker, migrate
from bot.nlu.address import locate
from bot.settings import Settings
from orders.partner_accounts import create_partner_invite, issue_token, partner_by_code, revoke_tokens
from orders.partners import PartnerRules, save_partners
from orders.routing import active_partners

T = TypeVar("T")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `htx partner` and its sub-commands."""
    partner = commands.add_parser("partner", help="partner trading cooperatives: rules, chats, API tokens, webhooks")
    sub = partner.add_subparsers(dest="partner_command", required=True)
    sub.add_parser("list", help="print every partner with its rules")
    load = sub.add_parser("load", help="create or update partners from a JSON file (docs/partners.md)")
    load.add_argument("file", type=Path)
    invite = sub.add_parser("invite", help="print a one-time code that links a chat (Telegram group, Zalo account)")
    invite.add_argument("partner", help="partner code, e.g. TM-SAIGON")
    token = sub.add_parser("token", help="print a new bearer token of the partner API (or revoke them all)")
    token.add_argument("partner")
    token.add_argument("--revoke", action="store_true", help="revoke every token of the partner instead")
    webhook = sub.add_parser("webhook", help="set (or with --off remove) the URL that receives signed order events")
    webhook.add_argument("partner")
    webhook.add_argument("url", nargs="?")
    webhook.add_argument("--off", action="store_true")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run one `htx partner` sub-command; the exit status."""
    if args.partner_command == "list":
        return await _in_session(settings, _list)
    if args.partner_command == "load":
        return await _load(settings, args.file)
    code = args.partner.upper()

    async def with_partner(session: AsyncSession) -> int:
        partner = await partner_by_code(session, code)
        if partner is None:
            print(f"no partner with code {code} (see: htx partner list)")
            return 1
        if args.partner_command == "invite":
            invite = await create_partner_invite(session, partner, "cli")
            print(f"{invite}\nOne-time code for {code}, valid 24 hours. In the partner's chat, send: /lienket {invite}")
        elif args.partner_command == "token" and args.revoke:
            print(f"revoked {await revoke_tokens(session, partner)} token(s) of {code}")
        elif args.partner_command == "token":
            token = await issue_token(session, partner)
            print(f"{token}\nBearer token of {code} for /api/v1/orders; it is shown only now, keep it secret.")
        elif args.off:
            partner.webhook_url = partner.webhook_secret = None
            print(f"webhook of {code} removed")
        elif not args.url or not args.url.startswith(("https://", "http://")):
            print("give the webhook URL, e.g. https://partner.example/htx-events (or --off)")
            return 1
        else:
            partner.webhook_url, partner.webhook_secret = args.url, "whsec_" + secrets.token_hex(24)
            print(f"webhook of {code}: {args.url}\nsigning secret (docs/partner-webhooks.md): {partner.webhook_secret}")
        return 0

    return await _in_session(settings, with_partner)


async def _list(session: AsyncSession) -> int:
    for p in await active_partners(session):
        where = ", ".join(p.provinces) or "whole country"
        what = ", ".join(p.categories) or "every category"
        free = f", free from {p.free_shipping_from:,}đ" if p.free_shipping_from is not None else ""
        print(
            f"{p.code}: {p.name}\n  delivers to {where}; carries {what}; min order {p.min_order:,}đ; "
            f"fee {p.shipping_fee:,}đ{free}; {p.daily_capacity or 'unlimited'} orders a day; "
            f"accept within {p.accept_timeout_minutes} min; webhook {'on' if p.webhook_url else 'off'}"
        )
    return 0


async def _load(settings: Settings, file: Path) -> int:
    try:
        partners = TypeAdapter(list[PartnerRules]).validate_json(file.read_bytes())
    except OSError as error:
        print(f"{file}: {error.strerror}")
        return 1
    except ValidationError as error:
        print(f"{file}: not a valid partners file\n{error}")
        return 1
    unknown = [f"{p.code}: province {name}" for p in partners for name in p.provinces if _place(name)[0] != name]
    unknown += [
        f"{p.code}: ward {ward}"
        for p in partners
        for ward in p.wards
        if not any(_place(f"{ward}, {province}") == (province, ward) for province in p.provinces)
    ]
    if unknown:
        print(
            "unknown places (use the post-2025 names, e.g. Lâm Đồng, Hồ Chí Minh, Phường Phan Thiết; "
            "wards must lie in the partner's provinces):\n" + "\n".join(unknown)
        )
        return 1

    async def save(session: AsyncSession) -> int:
        created, updated = await save_partners(session, partners)
        print(f"{file}: {created} partners created, {updated} updated")
        return 0

    return await _in_session(settings, save)


def _place(text: str) -> tuple[str | None, str | None]:
    """(province, ward) of a place name as the address reader understands it."""
    place = locate(text)
    return (place.province, place.ward) if place else (None, None)


async def _in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        async with make_sessionmaker(engine).begin() as session:
            return await work(session)
    finally:
        await engine.dispose()
