"""The public server's front door: what an HTTP request may be before Gradio sees it.

Gradio accepts bodies of any size, any number of queued events from one visitor, uploads at any
rate, and offers routes that write a visitor's page state to disk. In public mode the app puts
:class:`Guard` (ASGI middleware) in front of it:

- routes this app never uses, and that write to disk, answer 404;
- a request body over ``max_body`` bytes is refused (413) from its Content-Length, and a body
  without one (chunked) is refused (411), so nothing is read before its size is known;
- each session may have ``per_session`` events waiting or running, and each client address
  ``per_client`` across its sessions (one visitor with many sessions cannot fill the queue);
- each client address may send ``requests_per_minute`` requests that start work (queue joins and
  uploads) and ``bytes_per_minute`` bytes in them: refusing a hostile file costs the server a
  few tens of milliseconds, and thousands of them a minute would still crowd out the visitors.

A visitor's address is the socket's peer, or behind a proxy the first address of
``X-Forwarded-For``: on a Hugging Face Space (``SPACE_ID`` set; its proxy sets the header) or with
``XLMR_DEMO_BEHIND_PROXY=1`` (set it only behind a proxy that sets the header: anyone can send one).
"""

from __future__ import annotations

import json
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable

QUEUE_JOIN = "/gradio_api/queue/join"
UPLOAD = "/gradio_api/upload"


async def _respond(send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


BEHIND_PROXY_ENV = "XLMR_DEMO_BEHIND_PROXY"


def visitor_address(forwarded_for: str | None, peer: str | None) -> str:
    """The visitor's address: behind a proxy the first X-Forwarded-For entry, elsewhere the connection's
    peer (without a proxy that sets it, the header could be written by anyone)."""
    behind_proxy = os.environ.get("SPACE_ID") or os.environ.get(BEHIND_PROXY_ENV, "") == "1"
    if forwarded_for and behind_proxy:
        return forwarded_for.split(",")[0].strip()
    return peer or "unknown"


def _address(scope) -> str:
    forwarded = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"), None)
    client = scope.get("client")
    return visitor_address(forwarded, client[0] if client else None)


class Guard:
    """ASGI middleware enforcing the bounds of the module docstring.

    ``waiting(session_hash)`` says how many events a session has queued or running (the app asks
    Gradio's queue); ``now`` is the clock (tests pass their own).
    """

    def __init__(
        self,
        app,
        *,
        closed: tuple[str, ...],
        max_body: int,
        waiting: Callable[[str], int],
        per_session: int = 4,
        per_client: int = 16,
        requests_per_minute: int = 30,
        bytes_per_minute: int = 100 * 2**20,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.closed = closed
        self.max_body = max_body
        self.waiting = waiting
        self.per_session, self.per_client = per_session, per_client
        self.requests_per_minute, self.bytes_per_minute = requests_per_minute, bytes_per_minute
        self.now = now
        self._sessions_of: OrderedDict[str, str] = OrderedDict()  # session -> address, the newest 10,000
        self._recent: dict[str, deque[tuple[float, int]]] = {}  # address -> (time, bytes) of its recent work

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/")
        if path in self.closed:
            await _respond(send, 404, "Not Found")
            return
        headers = dict(scope.get("headers", ()))
        length = headers.get(b"content-length")
        if length is None and b"chunked" in headers.get(b"transfer-encoding", b""):
            await _respond(send, 411, "Send the request with a Content-Length.")
            return
        size = int(length) if length and length.isdigit() else 0
        if size > self.max_body:
            await _respond(send, 413, f"The request is {size / 2**20:,.0f} MiB; the limit is "
                                      f"{self.max_body / 2**20:,.0f} MiB.")  # fmt: skip
            return
        address = _address(scope)
        if path in (UPLOAD, QUEUE_JOIN) and not self._rate_allowed(address, size):
            await _respond(send, 429, "Too many requests from your address; wait a minute and try again.")
            return
        if path == QUEUE_JOIN:
            body, receive = await _buffered(receive)
            refusal = self._join_refusal(body, address)
            if refusal:
                await _respond(send, 429, refusal)
                return
        await self.app(scope, receive, send)

    def _rate_allowed(self, address: str, size: int) -> bool:
        now = self.now()
        recent = self._recent.setdefault(address, deque())
        while recent and now - recent[0][0] > 60:
            recent.popleft()
        if len(recent) >= self.requests_per_minute or sum(n for _, n in recent) + size > self.bytes_per_minute:
            return False
        recent.append((now, size))
        if len(self._recent) > 10_000:  # forget the quietest addresses
            for key in [k for k, v in self._recent.items() if not v][:5_000]:
                del self._recent[key]
        return True

    def _join_refusal(self, body: bytes, address: str) -> str | None:
        try:
            session = json.loads(body).get("session_hash")
        except (ValueError, AttributeError):
            return None  # Gradio answers malformed requests itself
        if not isinstance(session, str):
            return None
        self._sessions_of[session] = address
        self._sessions_of.move_to_end(session)
        while len(self._sessions_of) > 10_000:
            self._sessions_of.popitem(last=False)
        if self.waiting(session) >= self.per_session:
            return f"You already have {self.per_session} requests waiting; wait for them to finish."
        mine = sum(self.waiting(s) for s, a in self._sessions_of.items() if a == address)
        if mine >= self.per_client:
            return f"Your address already has {self.per_client} requests waiting; wait for them to finish."
        return None


async def _buffered(receive):
    """Read a request body whole (its size is already bounded) and a ``receive`` that replays it."""
    chunks = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return b"", receive
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
