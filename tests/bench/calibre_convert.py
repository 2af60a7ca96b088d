"""Benchmark: convert a 100-page book with the calibre handler (HTML -> EPUB, HTML -> PDF, EPUB -> MOBI).

The book is built here: 100 chapters of Czech text, each starting on a new page (about 300 words a page).
Usage: .venv/bin/python tests/bench/calibre_convert.py
"""

from __future__ import annotations

import base64
import re
import tempfile
import time
from pathlib import Path

from daemons.calibre import handler as calibre
from daemons.rpc.handler import HandlerContext

PAGES = 100
SENTENCE = "Příliš žluťoučký kůň úpěl ďábelské ódy a nakladatel odevzdal povinný výtisk včas."


def book_html(pages: int) -> bytes:
    chapter = "".join(f"<p>{' '.join([SENTENCE] * 6)}</p>" for _ in range(4))
    body = "".join(f'<h1 style="page-break-before: always">Kapitola {n}</h1>{chapter}' for n in range(1, pages + 1))
    return f'<html><head><meta charset="utf-8"><title>Kniha</title></head><body>{body}</body></html>'.encode()


def convert(source_format: str, target_format: str, data: bytes) -> tuple[bytes, float]:
    message = calibre.ConversionRequest(source_format, target_format, base64.b64encode(data).decode())
    start = time.perf_counter()
    answer = calibre.react(message, [].append)
    return base64.b64decode(answer.b64_data), time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="calibre-bench-") as name:
        root = Path(name)
        calibre.configure(HandlerContext("calibre", {"temp_dir": name}, root, root))
        html = book_html(PAGES)
        epub, seconds = convert("html", "epub", html)
        print(f"{PAGES}-page HTML ({len(html) // 1024} KiB) -> EPUB: {seconds:6.2f} s  ({len(epub) // 1024} KiB)")
        pdf, seconds = convert("html", "pdf", html)
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
        print(f"{PAGES}-page HTML -> PDF:              {seconds:6.2f} s  ({len(pdf) // 1024} KiB, {pages} PDF pages)")
        mobi, seconds = convert("epub", "mobi", epub)
        print(f"{PAGES}-page EPUB -> MOBI:             {seconds:6.2f} s  ({len(mobi) // 1024} KiB)")


if __name__ == "__main__":
    main()
