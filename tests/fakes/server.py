"""Starting a fake platform's aiohttp app on 127.0.0.1 and a free port, and the life cycle fakes share."""

from __future__ import annotations

from typing import Self

from aiohttp import web


async def listen(app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
    """Serve `app` on 127.0.0.1 and `port` (0: a free one); returns the runner (to `cleanup()`) and the port."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, int(runner.addresses[0][1])


class FakeServer:
    """The life cycle every fake shares: `async with Fake() as fake` serves its routes on a free port.

    `close()` then `start()` again is a platform gone for a while: nothing listens on its port (connections are
    refused) until it is back on the same port, with everything it recorded.
    """

    port: int = 0
    _runner: web.AppRunner | None = None

    def add_routes(self, app: web.Application) -> None:
        """Put the fake's handlers on its app."""
        raise NotImplementedError

    async def start(self) -> Self:
        """Listen on 127.0.0.1: on a free port the first time, on that same port after a `close()`."""
        app = web.Application()
        self.add_routes(app)
        self._runner, self.port = await listen(app, self.port)
        return self

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
