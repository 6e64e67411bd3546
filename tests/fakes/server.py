"""Starting a fake platform's aiohttp app on 127.0.0.1 and a free port."""

from __future__ import annotations

from aiohttp import web


async def listen(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve `app` on 127.0.0.1 and a free port; returns the runner (to `cleanup()`) and the port."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, int(runner.addresses[0][1])
