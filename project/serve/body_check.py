"""ASGI middleware: a ``POST`` body that is not well-formed JSON or multipart gets a 4xx, not a 500.

LitServe parses the body (``request.json()`` / ``request.form()``) before the API sees it and answers any
error there with a 500 "Internal server error"; this check runs first and names the problem instead.
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any

Message = dict[str, Any]
ASGIApp = Callable[
    [dict, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]
MAX_BODY = 32 * 2**20  # bytes: an image or a batch of inputs fits far below this


class BodyCheck:
    """Reads a ``POST`` body, answers 400/413/415 when LitServe could not parse it, else passes it on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                await answer(send, 413, f"body larger than {MAX_BODY // 2**20} MB")
                return
        replay = replayer(body, receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        problem = None
        if not body:
            problem = (
                400,
                "empty body: send an image file (multipart field 'file') or JSON {\"inputs\": ...}",
            )
        elif kind == "application/json":
            try:
                json.loads(body)
            except ValueError as err:
                problem = (400, f"body is not valid JSON ({err})")
        elif kind == "multipart/form-data":
            from starlette.requests import Request

            try:
                await Request(scope, replayer(body, receive)).form()
            except Exception as err:  # starlette raises several types for a broken multipart body
                problem = (400, f"body is not valid multipart/form-data ({err})")
        else:
            problem = (415, f"content type {kind or 'missing'}: send multipart/form-data or application/json")
        if problem:
            await answer(send, *problem)
            return
        await self.app(scope, replay, send)


def replayer(body: bytes, receive: Callable) -> Callable[[], Awaitable[Message]]:
    """A ``receive`` that gives the already read body once, then defers to the real one (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def answer(send: Callable, status: int, detail: str) -> None:
    payload = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
