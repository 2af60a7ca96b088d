"""The calibre handler against Debian's real calibre: documents built here, converted by ebook-convert."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from daemons.calibre import handler as calibre
from daemons.calibre.formats import UnsupportedFormat
from daemons.rpc.loader import HandlerError, load_handler
from daemons.rpc.settings import DaemonSettings
from daemons.testing import wait_for

CZECH = "Příliš žluťoučký kůň úpěl ďábelské ódy."


def configure(tmp_path: Path, **options: Any) -> Path:
    """Load the handler as the worker does; conversions get their private dirs under the returned temp dir."""
    temp_dir = tmp_path / "conversions"
    temp_dir.mkdir(exist_ok=True)
    options.setdefault("temp_dir", temp_dir)
    settings = DaemonSettings(
        name="calibre", handler="daemons.calibre.handler:react", vhost="calibre", exchange="convert",
        input_queue="daemon", output_queue="plone", input_key="request", output_key="result",
        options={key: str(value) for key, value in options.items()},
        data_dir=tmp_path / "state" / "calibre", state_dir=tmp_path / "state",
    )
    load_handler(settings)
    return temp_dir


def request(input_format: str, output_format: str, content: bytes) -> calibre.ConversionRequest:
    return calibre.ConversionRequest(input_format, output_format, base64.b64encode(content).decode())


def book_pages(pages: int) -> str:
    """An HTML book of `pages` chapters, each starting on a new page."""
    chapter = "<p>" + " ".join([CZECH] * 40) + "</p>"
    body = "".join(f'<h1 style="page-break-before: always">Kapitola {n}</h1>{chapter}' for n in range(1, pages + 1))
    return f'<html><head><meta charset="utf-8"><title>Kniha</title></head><body>{body}</body></html>'


def epub_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        assert book.namelist()[0] == "mimetype"
        assert book.read("mimetype") == b"application/epub+zip"
        assert book.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
        assert "META-INF/container.xml" in book.namelist()
        return "".join(book.read(n).decode("utf-8") for n in book.namelist() if n.endswith((".html", ".xhtml")))


def test_txt_becomes_a_valid_epub_keeping_czech_text(tmp_path: Path) -> None:
    temp_dir = configure(tmp_path)
    text = f"Kniha\n\n{CZECH}\n"
    answer = calibre.react(request("TXT", ".epub", text.encode("utf-8")), [].append)
    assert answer.format == "epub"
    assert CZECH in epub_text(base64.b64decode(answer.b64_data))
    assert "EPUB output written to" in answer.protocol
    assert list(temp_dir.iterdir()) == []


def test_html_becomes_pdf_as_root_without_touching_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PDF output needs QtWebEngine (no sandbox as root, offscreen); calibre's caches stay private."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "CALIBRE_CONFIG_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    temp_dir = configure(tmp_path)
    answer = calibre.react(request("html", "pdf", book_pages(2).encode("utf-8")), [].append)
    pdf = base64.b64decode(answer.b64_data)
    assert answer.format == "pdf" and pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-1024:]
    assert list(home.iterdir()) == [] and list(temp_dir.iterdir()) == []


def test_html_does_not_pull_in_files_from_outside_the_book(tmp_path: Path) -> None:
    configure(tmp_path)
    secret = tmp_path / "secret.html"
    secret.write_text("<p>SECRET-CONTENT</p>")
    page = f'<html><body><p>Kniha</p><a href="{secret}">a</a><img src="{secret}"><iframe src="{secret}">' \
           f'</iframe><a href="file://{secret}">b</a></body></html>'
    answer = calibre.react(request("html", "epub", page.encode()), [].append)
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(answer.b64_data))) as book:
        assert not any(b"SECRET-CONTENT" in book.read(name) for name in book.namelist())


@pytest.mark.parametrize(("source", "target", "message"), [
    ("exe", "epub", "input_format 'exe' is not a format calibre can read; use one of: azw,"),
    ("txt", "doc", "output_format 'doc' is not a format calibre can write; use one of: azw3,"),
    ("recipe", "epub", "input_format 'recipe' is refused: a recipe runs Python code"),
    ("txt", "oeb", "output_format 'oeb' is refused: OEB output is a directory; ask for zip"),
])
def test_unsupported_formats_are_refused_naming_the_choices(tmp_path: Path, source: str, target: str,
                                                            message: str) -> None:
    configure(tmp_path)
    with pytest.raises(UnsupportedFormat) as raised:
        calibre.react(request(source, target, b"text"), [].append)
    assert str(raised.value).startswith(message)


def test_broken_book_error_carries_the_converter_output(tmp_path: Path) -> None:
    temp_dir = configure(tmp_path)
    with pytest.raises(RuntimeError, match=r"ebook-convert could not convert epub to txt \(exit status [1-9]"):
        calibre.react(request("epub", "txt", b"this is not a zip archive"), [].append)
    assert list(temp_dir.iterdir()) == []


def processes_using(path: Path) -> list[str]:
    """Pids of processes whose environment mentions `path` (the converter's private dirs do)."""
    found = []
    marker = str(path).encode()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "environ").read_bytes():
                found.append(proc.name)
        except OSError:
            continue
    return found


def test_time_limit_stops_the_converter_and_all_its_helpers(tmp_path: Path) -> None:
    temp_dir = configure(tmp_path, timeout=3)
    with pytest.raises(calibre.ConversionTimeout, match="did not finish within 3 s"):
        calibre.react(request("html", "pdf", book_pages(1000).encode("utf-8")), [].append)
    wait_for(lambda: processes_using(temp_dir) == [], timeout=10, what="the killed converter's processes to go")
    assert list(temp_dir.iterdir()) == []


def test_missing_ebook_convert_is_named_with_the_install_command(tmp_path: Path) -> None:
    missing = tmp_path / "no-ebook-convert"
    configure(tmp_path, ebook_convert=missing)
    assert calibre.health() == f"{missing} not found: apt-get install calibre (or set ebook_convert)"
    with pytest.raises(calibre.BackendUnavailable, match="apt-get install calibre"):
        calibre.react(request("txt", "epub", b"text"), [].append)


def test_empty_book_is_refused_with_the_field_name(tmp_path: Path) -> None:
    configure(tmp_path)
    with pytest.raises(calibre.BadRequest, match="ConversionRequest.b64_data is empty"):
        calibre.react(request("txt", "epub", b""), [].append)


def test_bad_timeout_option_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(HandlerError, match=r"\[\[\[options\]\]\] timeout = '0'"):
        configure(tmp_path, timeout=0)
