"""A real HTTP server on loopback that serves good and bad input images, for the input-image tests.

Every answer is built here, in memory: a good sketch, a 404, an HTML page, a
truncated PNG, a decompression bomb (a 300-byte PNG declaring 50000*50000),
images too small, too large and too wide, a GIF, an endless slow answer, an
oversized body with and without Content-Length, and redirects (to a good
image, to the cloud metadata address, in a loop).
"""

from __future__ import annotations

import io
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image, ImageDraw

BIG = 11 * 1024 * 1024  # past the sketch model's 10 MB


def png(width: int = 300, height: int = 300, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, fmt)
    return buffer.getvalue()


def sketch() -> bytes:
    """A 512*512 white sheet with one thick black vertical stroke down the middle."""
    image = Image.new("RGB", (512, 512), "white")
    ImageDraw.Draw(image).rectangle((236, 0, 276, 511), fill="black")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def bomb(side: int = 50_000) -> bytes:
    """A valid PNG header that declares a ``side``-square canvas, with a tiny IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


class ImageHost:
    """``ThreadingHTTPServer`` on 127.0.0.1 in a thread; ``url(path)`` names what it serves."""

    def __init__(self) -> None:
        self.release = threading.Event()  # frees the slow handler at teardown
        self.requested: list[str] = []  # every path asked for, in order (list.append is atomic)
        good = sketch()
        self.files: dict[str, tuple[int, str, bytes]] = {
            "/good.png": (200, "image/png", good),
            "/page.html": (200, "text/html", b"<html><body>not an image</body></html>"),
            "/truncated.png": (200, "image/png", good[: len(good) // 2]),
            "/bomb.png": (200, "image/png", bomb()),
            "/small.png": (200, "image/png", png(100, 100)),
            "/large.png": (200, "image/png", png(3000, 3000)),
            "/wide.png": (200, "image/png", png(768, 256)),
            "/anim.gif": (200, "image/gif", png(512, 512, "GIF")),
        }
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                host.handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path
        self.requested.append(path)
        redirects = {"/to-good": "/good.png", "/loop": "/loop", "/to-metadata": "http://169.254.169.254/latest/meta-data/"}
        if path.startswith("/redirect?to="):  # anywhere the test names
            redirects[path] = path.removeprefix("/redirect?to=")
        try:
            if path in redirects:
                request.send_response(302)
                request.send_header("Location", redirects[path])
                request.send_header("Content-Length", "0")
                request.end_headers()
            elif path == "/slow.png":
                self.release.wait(30)  # never answers while the test runs
            elif path in ("/huge.png", "/huge-chunked.png"):
                request.send_response(200)
                request.send_header("Content-Type", "image/png")
                if path == "/huge.png":
                    request.send_header("Content-Length", str(BIG))
                else:
                    request.send_header("Connection", "close")
                request.end_headers()
                block = b"\0" * 65536
                for _ in range(BIG // len(block)):
                    request.wfile.write(block)
            elif path in self.files:
                status, kind, body = self.files[path]
                request.send_response(status)
                request.send_header("Content-Type", kind)
                request.send_header("Content-Length", str(len(body)))
                request.end_headers()
                request.wfile.write(body)
            else:
                request.send_error(404)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the emulator stopped reading: that is the point of the cap

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
