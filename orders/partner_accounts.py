"""How a partner trading cooperative reaches its orders: linked chats (one-time codes) and API bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.accounts import OWNER, new_invite
from catalog.models import InviteCode, utcnow
from orders.models import Partner, PartnerAccount, PartnerToken

TOKEN_PREFIX = "htxp_"


async def partner_by_code(session: AsyncSession, code: str) -> Partner | None:
    """A partner by its code (any case)."""
    return await session.scalar(select(Partner).where(Partner.code == code.strip().upper()))


async def create_partner_invite(session: AsyncSession, partner: Partner, created_by: str) -> str:
    """A one-time code a partner sends as `/lienket CODE` from the chat where it wants its orders."""
    return await new_invite(session, OWNER, created_by, partner_id=partner.id)


async def attach_chat(session: AsyncSession, channel: str, chat_id: str, invite: InviteCode, by: str) -> PartnerAccount:
    """Make this chat (a Telegram group, a Zalo account) receive and act on the invite's partner's orders."""
    assert invite.partner_id is not None
    account = await partner_account(session, channel, chat_id)
    if account is None:
        account = PartnerAccount(channel=channel, chat_id=chat_id, partner_id=invite.partner_id, linked_by=by)
        session.add(account)
    else:
        account.partner_id, account.linked_by = invite.partner_id, by
    await session.flush()
    await session.refresh(account)
    return account


async def partner_account(session: AsyncSession, channel: str, chat_id: str) -> PartnerAccount | None:
    """The partner this chat acts for, or None."""
    return await session.scalar(
        select(PartnerAccount).where(PartnerAccount.channel == channel, PartnerAccount.chat_id == chat_id)
    )


async def partner_chats(session: AsyncSession, partner_id: int) -> Sequence[PartnerAccount]:
    """Every chat linked to a partner, oldest first."""
    query = select(PartnerAccount).where(PartnerAccount.partner_id == partner_id).order_by(PartnerAccount.id)
    return (await session.scalars(query)).all()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(session: AsyncSession, partner: Partner) -> str:
    """A new API bearer token for the partner; only its hash is kept, so it is shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(PartnerToken(partner_id=partner.id, token_hash=_hash(token)))
    await session.flush()
    return token


async def revoke_tokens(session: AsyncSession, partner: Partner) -> int:
    """Revoke every live token of the partner; returns how many."""
    result = await session.execute(
        update(PartnerToken)
        .where(PartnerToken.partner_id == partner.id, PartnerToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def partner_for_token(session: AsyncSession, token: str) -> Partner | None:
    """The partner a live bearer token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return await session.scalar(
        select(Partner)
        .join(PartnerToken, PartnerToken.partner_id == Partner.id)
        .where(PartnerToken.token_hash == _hash(token), PartnerToken.revoked_at.is_(None))
    )
