"""The baseline of bench/webhooks.py: a bare aiohttp server that reads each webhook body, parses its JSON and
answers 200; no signature check, no database.

Run: `.venv/bin/python -m bench.bare --port 8099` (bench/webhooks.py starts it itself).
"""

from __future__ import annotations

import argparse
import json

from aiohttp import web


async def webhook(request: web.Request) -> web.Response:
    """Parse the body as the real routes do, and answer 200."""
    json.loads(await request.read())
    return web.json_response({"ok": True})


async def health(_request: web.Request) -> web.Response:
    """`GET /healthz`, so the benchmark knows the server is up."""
    return web.json_response({"ok": True})


def main() -> None:
    """Serve the webhook paths on 127.0.0.1, as `htx serve` does (default aiohttp settings)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    app = web.Application()
    app.add_routes([web.post("/webhooks/{platform}", webhook), web.get("/healthz", health)])
    web.run_app(app, host="127.0.0.1", port=parser.parse_args().port, print=None)


if __name__ == "__main__":
    main()
