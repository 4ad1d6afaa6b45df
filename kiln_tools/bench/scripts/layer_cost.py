"""What one pure ASGI layer costs a request, wrapping `send` as core/middleware.py's layers do.

Run it on a render's interpreter, which has Starlette:
`<render>/.venv/bin/python kiln_tools/bench/scripts/layer_cost.py`. It prints the CPU per request
of a trivial ASGI app called directly, through 0, 1, 3 and 12 pass-through layers (best of three
loops each).
"""

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CALLS = 200_000
LAYER_COUNTS = (0, 1, 3, 12)


class PassThrough:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped_send(message: Message) -> None:
            await send(message)

        await self.app(scope, receive, wrapped_send)


async def endpoint(_: Scope, __: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def receive() -> Message:
    return {"type": "http.request"}


async def discard(_: Message) -> None:
    return None


async def microseconds_per_call(layers: int) -> float:
    app: ASGIApp = endpoint
    for _ in range(layers):
        app = PassThrough(app)
    scope: Scope = {"type": "http", "path": "/", "method": "GET", "headers": []}
    started = time.process_time()
    for _ in range(CALLS):
        await app(scope, receive, discard)
    return (time.process_time() - started) / CALLS * 1e6


async def main() -> None:
    for layers in LAYER_COUNTS:
        best = min([await microseconds_per_call(layers) for _ in range(3)])
        print(f"{layers:2d} layers: {best:.2f} µs per request")


if __name__ == "__main__":
    asyncio.run(main())
