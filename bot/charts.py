"""Sales charts: drawn with matplotlib into a PNG, kept in the database, served at `/charts/{token}.png`."""

from __future__ import annotations

import io
import secrets
from decimal import Decimal

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.keys import SESSIONS
from bot.models import Chart

PATH = "/charts/{token}.png"


def sales_chart(title: str, sales: list[tuple[str, Decimal]]) -> bytes:
    """A horizontal bar chart of amounts (đồng) per product, as PNG bytes; DejaVu Sans draws Vietnamese.

    matplotlib is imported here, on the first report, so that starting a process (`htx serve`, every `htx`
    command) does not pay for it: about half a second. A `Figure` of its own, not pyplot's global state, draws
    without a screen and is safe beside other requests.
    """
    from matplotlib.figure import Figure

    names = [name for name, _ in reversed(sales)]
    amounts = [float(amount) / 1000 for _, amount in reversed(sales)]
    figure = Figure(figsize=(7, 1.2 + 0.5 * len(sales)), dpi=100)
    axes = figure.subplots()
    axes.barh(names, amounts, color="#2e7d32")
    axes.set_title(title, fontsize=11)
    axes.set_xlabel("nghìn đồng")
    for position, amount in enumerate(amounts):
        axes.text(amount, position, f" {amount:,.0f}".replace(",", "."), va="center", fontsize=9)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def store(session: AsyncSession, png: bytes) -> str:
    """Keep a chart and return the path it is served at."""
    token = secrets.token_urlsafe(16)
    session.add(Chart(token=token, png=png))
    await session.flush()
    return PATH.format(token=token)


async def serve(request: web.Request) -> web.Response:
    """`GET /charts/{token}.png`."""
    async with request.app[SESSIONS]() as session:
        chart = await session.get(Chart, request.match_info["token"])
    if chart is None:
        return web.json_response({"error": "no such chart"}, status=404)
    return web.Response(body=chart.png, content_type="image/png", headers={"Cache-Control": "max-age=86400"})


def routes() -> list[web.RouteDef]:
    """The chart route."""
    return [web.get(PATH, serve)]
