"""A chat webhook receiver on a loopback port: it records every POST it gets.

with ChatServer() as chat:             # answers 200 "ok"
    chat.url("/hooks/T0K3N")           # http://127.0.0.1:PORT/hooks/T0K3N
    chat.status = 500                  # from now on: HTTP 500
    chat.silent = True                 # from now on: read the request, never answer
    chat.posts                         # [Post(path, headers, json body), ...]
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional


@dataclass(frozen=True)
class Post:
    path: str
    headers: dict[str, str]
    body: Any


class ChatServer:
    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.status = 200
        self.silent = False
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(length)
                server.posts.append(Post(self.path, dict(self.headers), json.loads(data)))
                if server.silent:
                    server.release.wait(60)
                    return
                self.send_response(server.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread: Optional[threading.Thread] = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> ChatServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
