"""A local HTTP receiver standing in for DingTalk's and WeCom's group robots and for a plain webhook: a real
server on 127.0.0.1 that checks signatures exactly as the robots do and answers what the test scripts."""

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def dingtalk_expected_sign(secret: str, timestamp: str) -> str:
    """DingTalk's own recipe: base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret))."""
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


@dataclass
class Received:
    path: str
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float
    sign_ok: bool | None = None


@dataclass
class Receiver:
    secret: str | None = None
    # Answers to give, in order (status, JSON body); once used up, `default`.
    script: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    default: tuple[int, dict[str, Any]] = (200, {"errcode": 0, "errmsg": "ok"})
    delay: float = 0.0
    got: list[Received] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> tuple[int, dict[str, Any]]:
        with self.lock:
            return self.script.pop(0) if self.script else self.default


@contextmanager
def receiver(**kw: Any) -> Iterator[Receiver]:
    r = Receiver(**kw)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            parts = urllib.parse.urlsplit(self.path)
            query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}
            got = Received(parts.path, query, parts.query, {k.lower(): v for k, v in self.headers.items()},
                           json.loads(raw or b"{}"), time.time())
            if r.secret and "timestamp" in query:
                got.sign_ok = query.get("sign") == dingtalk_expected_sign(r.secret, query["timestamp"])
            elif r.secret and "x-attain-signature" in got.headers:
                mac = hmac.new(r.secret.encode(), got.headers.get("x-attain-timestamp", "").encode() + b"." + raw,
                               hashlib.sha256).hexdigest()
                got.sign_ok = hmac.compare_digest(got.headers["x-attain-signature"], f"sha256={mac}")
            with r.lock:
                r.got.append(got)
            if r.delay:
                time.sleep(r.delay)
            status, body = r.answer()
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    r.url = f"http://127.0.0.1:{server.server_address[1]}/robot/send?access_token=t0ken"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield r
    finally:
        server.shutdown()
        server.server_close()
