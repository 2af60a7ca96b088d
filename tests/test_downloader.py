"""The downloader against a real HTTP server on 127.0.0.1: content, progress, limits, address refusals."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from daemons.downloader import handler as downloader
from daemons.downloader.fetch import DownloadError
from daemons.downloader.guard import AddressPolicy, URLRefused
from daemons.rpc.handler import HandlerContext
from daemons.rpc.loader import HandlerError

Route = Callable[[BaseHTTPRequestHandler], None]


class LocalServer:
    """A threaded HTTP server whose paths are answered by small functions."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.release = threading.Event()
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                route = routes.get(urlsplit(self.path).path)
                if route is None:
                    self.send_error(404, "no such file")
                else:
                    route(self)

            do_HEAD = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        scheme = "https" if isinstance(self.server.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://{host}:{port}{path}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def send_bytes(data: bytes, content_length: bool = True, status: int = 200,
               extra: dict[str, str] | None = None) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/octet-stream")
        for name, value in (extra or {}).items():
            handler.send_header(name, value)
        if content_length:
            handler.send_header("Content-Length", str(len(data)))
        else:
            handler.close_connection = True
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)

    return route


def redirect_to(location: str, status: int = 302) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


@pytest.fixture
def server() -> Iterator[LocalServer]:
    local = LocalServer()
    local.thread.start()
    yield local
    local.close()


@pytest.fixture
def configure(tmp_path: Path) -> Iterator[Callable[..., None]]:
    """Configure the downloader with options as an INI would give them; restores the defaults after."""

    def apply(**options: object) -> None:
        text = {key: value if isinstance(value, list) else str(value) for key, value in options.items()}
        downloader.configure(HandlerContext(name="downloader", options=text, data_dir=tmp_path, state_dir=tmp_path))

    yield apply
    apply()


def payload(size: int) -> bytes:
    return hashlib.sha256(str(size).encode()).digest() * (size // 32) + b"x" * (size % 32)


def test_download_returns_the_servers_bytes_base64_encoded(server, configure):
    data = payload(300_000)
    server.routes["/book.epub"] = send_bytes(data)
    configure(allow_private_networks="true")
    answer = downloader.react(downloader.Download(server.url("/book.epub")), [].append)
    assert isinstance(answer, downloader.DownloadedFile)
    assert answer.url == server.url("/book.epub")
    assert base64.b64decode(answer.b64_data) == data


def test_download_refuses_loopback_by_default_without_connecting(server, configure):
    hits = []
    server.routes["/secret"] = lambda handler: (hits.append(1), send_bytes(b"secret")(handler))
    configure()
    with pytest.raises(URLRefused, match=r"127\.0\.0\.1 is a loopback address; set allow_private_networks = true"):
        downloader.react(downloader.Download(server.url("/secret")), [].append)
    assert hits == []


def test_download_checks_the_address_a_host_name_resolves_to(server, configure):
    server.routes["/secret"] = send_bytes(b"secret")
    configure()
    with pytest.raises(URLRefused, match=r"host 'localhost' refused: .*loopback address"):
        downloader.react(downloader.Download(server.url("/secret").replace("127.0.0.1", "localhost")), [].append)


def test_download_refuses_a_redirect_to_a_loopback_address():
    allowed = LocalServer("127.0.0.2")
    target = LocalServer("127.0.0.1")
    for local in (allowed, target):
        local.thread.start()
    try:
        hits = []
        target.routes["/secret"] = lambda handler: (hits.append(1), send_bytes(b"secret")(handler))
        allowed.routes["/go"] = redirect_to(target.url("/secret"))
        downloader.configure(HandlerContext(name="downloader", options={"allowed_networks": ["127.0.0.2/32"]},
                                            data_dir=Path("."), state_dir=Path(".")))
        with pytest.raises(URLRefused, match=r"127\.0\.0\.1 is a loopback address"):
            downloader.react(downloader.Download(allowed.url("/go")), [].append)
        assert hits == []
    finally:
        downloader.configure(HandlerContext(name="downloader", options={}, data_dir=Path("."), state_dir=Path(".")))
        allowed.close()
        target.close()


def test_download_follows_redirects_when_private_networks_are_allowed(server, configure):
    server.routes["/final"] = send_bytes(b"the file")
    server.routes["/moved"] = redirect_to("/final", 301)
    server.routes["/first"] = redirect_to(server.url("/moved"), 307)
    configure(allow_private_networks="true")
    answer = downloader.react(downloader.Download(server.url("/first")), [].append)
    assert base64.b64decode(answer.b64_data) == b"the file"


def test_download_stops_after_max_redirects(server, configure):
    server.routes["/loop"] = redirect_to("/loop")
    configure(allow_private_networks="true", max_redirects="3")
    with pytest.raises(DownloadError, match="more than max_redirects = 3"):
        downloader.react(downloader.Download(server.url("/loop")), [].append)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://example/", "http://", 42])
def test_download_refuses_urls_that_are_not_http_or_https(url, configure):
    configure(allow_private_networks="true")
    with pytest.raises(URLRefused, match=r"url = .*(scheme|names no host|expected an http)"):
        downloader.react(downloader.Download(url), [].append)


@pytest.mark.parametrize("announce_length", [True, False])
def test_download_refuses_a_body_over_max_bytes(server, configure, announce_length):
    server.routes["/big"] = send_bytes(payload(2_000_000), content_length=announce_length)
    configure(allow_private_networks="true", max_bytes="1000000")
    with pytest.raises(DownloadError, match="max_bytes = 1000000"):
        downloader.react(downloader.Download(server.url("/big")), [].append)


def test_download_gives_up_on_a_server_that_stalls(server, configure):
    def stall(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.wfile.write(b"x" * 10)
        handler.wfile.flush()
        server.release.wait(30)

    server.routes["/stall"] = stall
    configure(allow_private_networks="true", timeout="0.3")
    with pytest.raises(DownloadError, match=r"sent nothing for timeout = 0\.3 s"):
        downloader.react(downloader.Download(server.url("/stall")), [].append)


def test_download_gives_up_on_a_server_that_trickles_past_max_seconds(server, configure):
    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        for _ in range(1000):
            if server.release.wait(0.02):
                return
            handler.wfile.write(b"x")
            handler.wfile.flush()

    server.routes["/trickle"] = trickle
    configure(allow_private_networks="true", timeout="5", max_seconds="0.3")
    with pytest.raises(DownloadError, match=r"took longer than max_seconds = 0\.3 s"):
        downloader.react(downloader.Download(server.url("/trickle")), [].append)


def test_download_reports_the_http_status_of_a_missing_file(server, configure):
    configure(allow_private_networks="true")
    with pytest.raises(DownloadError, match="answered HTTP 404"):
        downloader.react(downloader.Download(server.url("/missing")), [].append)


def test_progress_download_sends_rising_steps_ending_with_the_whole_file(server, configure):
    data = payload(3_000_000)
    server.routes["/f"] = send_bytes(data)
    configure(allow_private_networks="true")
    progress: list = []
    answer = downloader.react(downloader.ProgressDownload(server.url("/f"), 5), progress.append)
    assert base64.b64decode(answer.b64_data) == data
    steps = [p.step for p in progress]
    assert steps == sorted(set(steps)) and 1 <= len(steps) <= 5
    assert progress[-1] == downloader.Progress(server.url("/f"), 5, len(data), len(data))
    assert all(p.content_length == len(data) for p in progress)
    assert all(p.downloaded >= p.step * len(data) // 5 for p in progress)


def test_progress_download_of_a_file_smaller_than_steps_sends_one_final_step(server, configure):
    server.routes["/tiny"] = send_bytes(b"abc")
    configure(allow_private_networks="true")
    progress: list = []
    answer = downloader.react(downloader.ProgressDownload(server.url("/tiny"), 10), progress.append)
    assert base64.b64decode(answer.b64_data) == b"abc"
    assert progress == [downloader.Progress(server.url("/tiny"), 10, 3, 3)]


def test_progress_download_without_content_length_reports_bytes_then_the_total(server, configure):
    data = payload(1_000_000)
    server.routes["/stream"] = send_bytes(data, content_length=False)
    configure(allow_private_networks="true", progress_bytes="250000")
    progress: list = []
    answer = downloader.react(downloader.ProgressDownload(server.url("/stream"), 4), progress.append)
    assert base64.b64decode(answer.b64_data) == data
    *running, last = progress
    assert running and all(p.step is None and p.content_length is None for p in running)
    assert [p.downloaded for p in running] == sorted(p.downloaded for p in running)
    assert last == downloader.Progress(server.url("/stream"), 4, len(data), len(data))


def test_progress_download_of_an_empty_file_still_ends_with_the_last_step(server, configure):
    server.routes["/empty"] = send_bytes(b"")
    configure(allow_private_networks="true")
    progress: list = []
    answer = downloader.react(downloader.ProgressDownload(server.url("/empty"), 3), progress.append)
    assert answer.b64_data == ""
    assert progress == [downloader.Progress(server.url("/empty"), 3, 0, 0)]


@pytest.mark.parametrize("steps", [0, -1, "5", 2.5, None, 10_001])
def test_progress_download_rejects_steps_that_are_not_a_sane_whole_number(steps, configure):
    with pytest.raises(ValueError, match=r"ProgressDownload\.steps = .*expected a whole number from 1 to"):
        downloader.react(downloader.ProgressDownload("http://127.0.0.1/", steps), [].append)


def test_check_existence_is_true_with_the_servers_headers(server, configure):
    server.routes["/here"] = send_bytes(b"12345", extra={"X-Edeposit": "yes"})
    configure(allow_private_networks="true")
    answer = downloader.react(downloader.CheckExistence(server.url("/here")), [].append)
    assert answer.result is True
    assert answer.headers["X-Edeposit"] == "yes" and answer.headers["Content-Length"] == "5"


def test_check_existence_is_false_for_a_missing_file_and_an_unreachable_server(server, configure):
    configure(allow_private_networks="true")
    assert downloader.react(downloader.CheckExistence(server.url("/gone")), [].append).result is False
    closed_port = LocalServer()
    url = closed_port.url("/x")
    closed_port.server.server_close()
    assert downloader.react(downloader.CheckExistence(url), [].append) == downloader.Exists(url, False, {})


def test_check_existence_asks_with_get_when_the_server_refuses_head(server, configure):
    def no_head(handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "HEAD":
            handler.send_error(405, "no HEAD here")
        else:
            send_bytes(b"body")(handler)

    server.routes["/nohead"] = no_head
    configure(allow_private_networks="true")
    assert downloader.react(downloader.CheckExistence(server.url("/nohead")), [].append).result is True


def test_check_existence_refuses_a_loopback_address_instead_of_answering_false(server, configure):
    server.routes["/here"] = send_bytes(b"12345")
    configure()
    with pytest.raises(URLRefused, match="loopback"):
        downloader.react(downloader.CheckExistence(server.url("/here")), [].append)


@pytest.mark.parametrize("address, refused", [
    ("10.1.2.3", True), ("172.16.0.1", True), ("192.168.1.1", True), ("127.0.0.1", True), ("169.254.169.254", True),
    ("100.64.0.1", True), ("0.0.0.0", True), ("224.0.0.1", True), ("::1", True), ("fe80::1", True),
    ("fd00::1", True), ("::ffff:127.0.0.1", True), ("93.184.216.34", False), ("2a00:1450:4001:80b::200e", False),
])
def test_address_policy_refuses_every_non_public_address(address, refused):
    assert (AddressPolicy().refusal(ipaddress.ip_address(address)) is not None) is refused
    assert AddressPolicy(allow_private_networks=True).refusal(ipaddress.ip_address(address)) is None


def test_allowed_networks_open_only_the_listed_private_block():
    policy = AddressPolicy.from_options(False, ["10.1.2.0/24"])
    assert policy.refusal(ipaddress.ip_address("10.1.2.200")) is None
    assert policy.refusal(ipaddress.ip_address("10.1.3.1")) is not None


@pytest.mark.parametrize("options, message", [
    ({"max_bytes": "lots"}, r"max_bytes = 'lots'"),
    ({"timeout": "-1"}, r"timeout = '-1'"),
    ({"allow_private_networks": "perhaps"}, r"allow_private_networks = 'perhaps'"),
    ({"proxy": "x"}, r"unknown option 'proxy'"),
])
def test_bad_options_are_refused_with_the_key_and_value(options, message, tmp_path):
    with pytest.raises(HandlerError, match=message):
        downloader.configure(HandlerContext(name="downloader", options=options, data_dir=tmp_path, state_dir=tmp_path))


def test_bad_allowed_network_names_the_value_and_the_expected_form(tmp_path):
    with pytest.raises(ValueError, match=r"allowed_networks: 'intranet' is not a network.*CIDR"):
        downloader.configure(HandlerContext(name="downloader", options={"allowed_networks": ["intranet"]},
                                            data_dir=tmp_path, state_dir=tmp_path))


def make_certificate(directory: Path) -> tuple[Path, Path]:
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return key, cert


def test_https_download_verifies_the_server_certificate(configure, tmp_path):
    key, cert = make_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = LocalServer(tls=context)
    server.thread.start()
    try:
        server.routes["/secure"] = send_bytes(b"over tls")
        url = server.url("/secure")
        assert url.startswith("https://")
        configure(allow_private_networks="true", timeout="5")
        with pytest.raises(ConnectionError, match="TLS handshake with 127.0.0.1 failed"):
            downloader.react(downloader.Download(url), [].append)
        configure(allow_private_networks="true", ca_file=str(cert), timeout="5")
        assert base64.b64decode(downloader.react(downloader.Download(url), [].append).b64_data) == b"over tls"
    finally:
        server.close()
