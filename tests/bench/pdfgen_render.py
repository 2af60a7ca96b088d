"""How long pdfgen takes for its typical requests: the review of one form, a contract, and reST documents.

Renders in this process (the handler as the worker calls it) and, when a broker answers, once more through
a real worker for the review, to show what AMQP adds. Prints medians; asserts nothing.
Usage: python tests/bench/pdfgen_render.py [--rounds N]
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from daemons.pdfgen import handler as pdfgen  # noqa: E402

REVIEW = pdfgen.GenerateReview(
    ISBN="978-80-7203-125-0", nazev="Příliš žluťoučký kůň", podnazev="úpěl ďábelské ódy", vazba="online", cena="149",
    nakladatelVydavatel="Nakladatelství Šťastná čtvrť", datumVydani="2024", mistoVydani="Ústí nad Labem",
    poradiVydani="1. vydání", zpracovatelZaznamu="Zdeňka Řeháková", format="EPUB", url="https://localhost/kniha",
    autori=[pdfgen.Author("Jan", "Novák", "PhDr."), pdfgen.Author("Petra", "Čechová", None)],
    originaly=["kun.epub"], internal_url="http://localhost:8080/e-deposit/epublikace/4711",
    anotace="Kniha o koni, který úpěl ďábelské ódy. " * 8,
)
CONTRACT = pdfgen.GenerateContract("Nakladatelství Žluťoučký kůň, s.r.o.", "s.r.o.", "Řeznická 12, Praha 1",
                                   "27182818", "CZ27182818", "Ing. Jiří Čermák")


def rst_document(chapters: int) -> str:
    """About 1.4 pages of mixed reST per chapter: headings, paragraphs, a list and a table."""
    paragraph = "Příliš žluťoučký kůň úpěl ďábelské ódy, *zatímco* **vítr** vál nad ``Ústím``. " * 9
    table = "=======  ==========\nSloupec  Hodnota\n=======  ==========\nř        ů\nž        ť\n=======  ==========\n"
    body = [f"Kapitola {n}\n{'=' * (9 + len(str(n)))}\n\n" + "\n\n".join([paragraph] * 7)
            + "\n\n- první bod\n- druhý bod\n\n" + table for n in range(chapters)]
    return "Zpráva\n######\n\n" + "\n\n".join(body)


def timed(call: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    answer, times = None, []
    for _ in range(rounds):
        start = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), answer


def pages(answer: Any) -> tuple[int, int]:
    data = base64.b64decode(answer.b64_content)
    return len(pypdf.PdfReader(io.BytesIO(data)).pages), len(data)


def through_worker(rounds: int) -> float | None:
    from daemons.rpc.client import RPCClient
    from daemons.rpc.wire import StructureRegistry
    from daemons.testing import BROKER, BrokerUnavailable, running_worker, throwaway_vhost, write_config

    try:
        with tempfile.TemporaryDirectory() as tmp, throwaway_vhost("edeposit-bench") as vhost:
            state = Path(tmp) / "state"
            state.mkdir()
            config = write_config(Path(tmp) / "amqpd.ini", vhost, state, {"pdfgen": {}})
            registry = StructureRegistry.from_modules([pdfgen])
            with running_worker(config, "pdfgen", Path(tmp) / "worker.log"), \
                    RPCClient(BROKER, vhost, "pdfgen", registry=registry) as client:
                client.call(REVIEW, timeout=60)  # warm up: fonts load on the first request
                return timed(lambda: client.call(REVIEW, timeout=60), rounds)[0]
    except BrokerUnavailable as exc:
        print(f"(no broker, skipping the worker round trip: {exc})")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    pdfgen.react(REVIEW, [].append)  # warm up: font registration happens once per process
    print(f"{'request':<34} {'median ms':>10} {'pages':>6} {'KiB':>7}")
    cases = [("GenerateReview (1 form)", REVIEW, rounds), ("GenerateContract", CONTRACT, rounds),
             ("RST2PDF ~10 pages", pdfgen.RST2PDF(rst_document(7), None, None, None), rounds),
             ("RST2PDF ~100 pages", pdfgen.RST2PDF(rst_document(72), None, None, None), max(1, rounds // 5))]
    for name, message, count in cases:
        median, answer = timed(lambda m=message: pdfgen.react(m, [].append), count)
        page_count, size = pages(answer)
        print(f"{name:<34} {median * 1000:>10.1f} {page_count:>6} {size / 1024:>7.1f}")
    worker = through_worker(rounds)
    if worker is not None:
        print(f"{'GenerateReview via worker (RPC)':<34} {worker * 1000:>10.1f}")


if __name__ == "__main__":
    main()
