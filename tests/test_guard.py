"""The public server's front door: closed routes, bounded bodies, bounded queue places and upload rates."""

from __future__ import annotations

import asyncio
import json

import pytest

from xlmr_demo.guard import QUEUE_JOIN, UPLOAD, Guard, visitor_address


class App:
    """The app behind the guard: records what reached it, and the body it read."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    async def __call__(self, scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.seen.append((scope["path"], body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def call(guard: Guard, path: str, body: bytes = b"", headers: dict | None = None, peer: str = "1.2.3.4") -> int:
    headers = {"content-length": str(len(body)), **(headers or {})}
    scope = {
        "type": "http", "method": "POST", "path": path, "client": (peer, 5000),
        "headers": [(k.encode(), v.encode()) for k, v in headers.items() if v is not None],
    }  # fmt: skip
    chunks = [body[:3], body[3:]]
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    asyncio.run(guard(scope, receive, send))
    return sent[0]["status"]


def join(session: str) -> bytes:
    return json.dumps({"session_hash": session, "fn_index": 3, "data": ["x" * 100]}).encode()


@pytest.fixture
def app() -> App:
    return App()


def guard_for(app: App, waiting=lambda session: 0, **options) -> Guard:
    return Guard(app, closed=("/gradio_api/deep_link",), max_body=1000, waiting=waiting, **options)


def test_closed_routes_answer_404_and_other_requests_pass_whole(app):
    guard = guard_for(app)
    assert call(guard, "/gradio_api/deep_link") == 404
    assert call(guard, "/gradio_api/deep_link/") == 404
    assert call(guard, QUEUE_JOIN, join("a")) == 200
    assert app.seen == [(QUEUE_JOIN, join("a"))]  # the body the guard read is replayed to the app


def test_bodies_are_bounded_before_they_are_read(app):
    guard = guard_for(app)
    assert call(guard, QUEUE_JOIN, b"x" * 1001) == 413
    assert call(guard, QUEUE_JOIN, b"{}", headers={"content-length": None, "transfer-encoding": "chunked"}) == 411
    assert app.seen == []


def test_a_session_and_an_address_have_a_few_queue_places(app):
    waiting = {"a": 4, "b": 3, "c": 3, "d": 3, "e": 2}
    guard = guard_for(app, waiting=lambda session: waiting.get(session, 0), per_session=4, per_client=16)
    assert call(guard, QUEUE_JOIN, join("a")) == 429  # four already waiting in this session
    for session in "bcde":  # 4 + 3 + 3 + 3 + 2 = 15 from one address: one more place
        assert call(guard, QUEUE_JOIN, join(session)) == 200
    waiting["e"] = 3
    assert call(guard, QUEUE_JOIN, join("g")) == 429  # 16 from this address, in whatever sessions
    assert call(guard, QUEUE_JOIN, join("g"), peer="5.6.7.8") == 200  # another visitor is not held up


def test_work_is_bounded_per_address_and_minute_in_requests_and_bytes(app):
    clock = [0.0]
    guard = guard_for(app, bytes_per_minute=2000, requests_per_minute=5, now=lambda: clock[0])
    assert [call(guard, UPLOAD, b"u" * 900) for _ in range(3)] == [200, 200, 429]  # bytes
    assert call(guard, UPLOAD, b"u" * 900, peer="5.6.7.8") == 200
    clock[0] = 61.0
    assert [call(guard, QUEUE_JOIN, join(f"s{k}")) for k in range(6)] == [200] * 5 + [429]  # requests
    assert call(guard, "/gradio_api/run/stop", b"{}") == 200  # not work: Stop is never refused


def test_the_visitors_address_trusts_forwarding_only_behind_a_proxy(monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("XLMR_DEMO_BEHIND_PROXY", raising=False)
    assert visitor_address("9.9.9.9, 10.0.0.1", "10.0.0.1") == "10.0.0.1"  # anyone can write the header
    monkeypatch.setenv("SPACE_ID", "someone/xlmr_demo")  # Hugging Face's proxy sets it
    assert visitor_address("9.9.9.9, 10.0.0.1", "10.0.0.1") == "9.9.9.9"
    monkeypatch.delenv("SPACE_ID")
    monkeypatch.setenv("XLMR_DEMO_BEHIND_PROXY", "1")  # an operator's own proxy
    assert visitor_address("9.9.9.9", "10.0.0.1") == "9.9.9.9"
