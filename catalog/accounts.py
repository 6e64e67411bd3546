"""Which chat accounts act for which cooperative: one-time invite codes, linking, roles, guessing slowed down."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Sequence
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import CoopAccount, Cooperative, InviteCode, LinkAttempt, utcnow

OWNER, STAFF = "owner", "staff"
ROLES = (OWNER, STAFF)
CODE_LIFETIME = timedelta(hours=24)
# Letters and digits that cannot be mistaken for each other when read aloud or typed on a phone.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
# Wrong codes one account may try in a window before it must wait: 31^8 codes leave guessing hopeless.
MAX_FAILED_ATTEMPTS = 5
ATTEMPT_WINDOW = timedelta(minutes=10)


class LinkRefused(ValueError):
    """Why a code did not link: "unknown", "expired", "used" or "too_many_attempts"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


async def create_invite(session: AsyncSession, cooperative: Cooperative, role: str, created_by: str) -> str:
    """A new one-time code for the cooperative; only its hash is stored, the code is shown once."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    return await new_invite(session, role, created_by, cooperative_id=cooperative.id)


async def new_invite(
    session: AsyncSession, role: str, created_by: str, cooperative_id: int | None = None, partner_id: int | None = None
) -> str:
    """A new one-time code for a cooperative or a partner trading cooperative; returns the code, stores its hash."""
    code = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))
    session.add(
        InviteCode(
            code_hash=_hash(code),
            cooperative_id=cooperative_id,
            partner_id=partner_id,
            role=role,
            created_by=created_by,
            expires_at=utcnow() + CODE_LIFETIME,
        )
    )
    await session.flush()
    return code


async def link(session: AsyncSession, channel: str, user_id: str, code: str) -> CoopAccount:
    """Spend a cooperative's code to make this chat account act for it, or raise `LinkRefused`."""
    invite = await spend(session, channel, user_id, code)
    if invite.cooperative_id is None:
        raise LinkRefused("unknown")
    return await attach(session, channel, user_id, invite)


async def spend(session: AsyncSession, channel: str, user_id: str, code: str) -> InviteCode:
    """Check a code and mark it used by this chat account, or raise `LinkRefused`.

    Every try is recorded; after `MAX_FAILED_ATTEMPTS` wrong codes in `ATTEMPT_WINDOW` the account must wait.
    """
    since = utcnow() - ATTEMPT_WINDOW
    failed = await session.scalar(
        select(func.count())
        .select_from(LinkAttempt)
        .where(
            LinkAttempt.channel == channel,
            LinkAttempt.user_id == user_id,
            LinkAttempt.at >= since,
            LinkAttempt.succeeded.is_(False),
        )
    )
    if (failed or 0) >= MAX_FAILED_ATTEMPTS:
        raise LinkRefused("too_many_attempts")
    invite = await session.scalar(select(InviteCode).where(InviteCode.code_hash == _hash(code)).with_for_update())
    reason = None
    if invite is None:
        reason = "unknown"
    elif invite.used_at is not None:
        reason = "used"
    elif invite.expires_at <= utcnow():
        reason = "expired"
    session.add(LinkAttempt(channel=channel, user_id=user_id, succeeded=reason is None))
    if reason is not None or invite is None:
        await session.flush()
        raise LinkRefused(reason or "unknown")
    invite.used_at, invite.used_by = utcnow(), f"{channel}:{user_id}"
    return invite


async def attach(session: AsyncSession, channel: str, user_id: str, invite: InviteCode) -> CoopAccount:
    """Make this chat account act for the spent invite's cooperative, with the invite's role."""
    assert invite.cooperative_id is not None
    account = await account_of(session, channel, user_id)
    if account is None:
        account = CoopAccount(channel=channel, user_id=user_id, cooperative_id=invite.cooperative_id, role=invite.role)
        session.add(account)
    else:
        account.cooperative_id, account.role = invite.cooperative_id, invite.role
    await session.flush()
    await session.refresh(account)
    return account


async def account_of(session: AsyncSession, channel: str, user_id: str) -> CoopAccount | None:
    """The cooperative account of a chat account, or None for a buyer."""
    return await session.scalar(
        select(CoopAccount).where(CoopAccount.channel == channel, CoopAccount.user_id == user_id)
    )


async def owners_of(session: AsyncSession, cooperative_ids: Collection[int]) -> Sequence[CoopAccount]:
    """The owner accounts of these cooperatives, oldest first: who hears of escalated orders and daily summaries."""
    query = select(CoopAccount).where(CoopAccount.cooperative_id.in_(list(cooperative_ids)), CoopAccount.role == OWNER)
    return (await session.scalars(query.order_by(CoopAccount.id))).all()


async def accounts_of(session: AsyncSession, cooperative_id: int) -> Sequence[CoopAccount]:
    """Every account linked to a cooperative, owners first."""
    query = select(CoopAccount).where(CoopAccount.cooperative_id == cooperative_id)
    return (await session.scalars(query.order_by(CoopAccount.role, CoopAccount.id))).all()


async def remove_account(session: AsyncSession, cooperative_id: int, account_id: int) -> bool:
    """Unlink a staff account of this cooperative; False when there is no such staff account."""
    result = await session.execute(
        delete(CoopAccount).where(
            CoopAccount.id == account_id, CoopAccount.cooperative_id == cooperative_id, CoopAccount.role == STAFF
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
