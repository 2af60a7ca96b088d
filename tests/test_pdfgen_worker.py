"""pdfgen through the real worker and broker: old clients' messages in, PDFs or clear errors out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daemons.pdfgen import handler as pdfgen
from daemons.rpc.client import RemoteError, RPCClient
from daemons.rpc.wire import StructureRegistry
from daemons.testing import BROKER, running_worker, write_config
from tests.test_pdfgen import CONTRACT, REVIEW_FIELDS, UPSTREAM_REVIEW, flat, page_texts, read_pdf

REGISTRY = StructureRegistry.from_modules([pdfgen])


@pytest.mark.slow
def test_worker_answers_old_clients_review_and_rst_requests(vhost: str, state_dir: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "amqpd.ini", vhost, state_dir, {"pdfgen": {}})
    review = {**REVIEW_FIELDS, "autori": [{"firstName": "Jan", "lastName": "Novák", "title": None,
                                           "__nt_name": "Author"}], "__nt_name": "GenerateReview"}
    with running_worker(config, "pdfgen", tmp_path / "worker.log"), \
            RPCClient(BROKER, vhost, "pdfgen", registry=REGISTRY) as client:
        answer = client.call(json.dumps(review).encode(), timeout=30, uuid='{"session": "ř-1"}')
        whole = flat(page_texts(read_pdf(answer))[0])
        assert REVIEW_FIELDS["nazev"] in whole and "Jan Novák" in whole

        upstream = client.call(json.dumps({**UPSTREAM_REVIEW, "__nt_name": "GenerateReview"}).encode(), timeout=30)
        whole = flat(" ".join(page_texts(read_pdf(upstream))))
        assert UPSTREAM_REVIEW["vydano_v_koedici_s"] in whole and "Autor 3 Nezvoleno" in whole

        contract = {**CONTRACT._asdict(), "jednajici": "Alžběta Nováková", "__nt_name": "GenerateContract"}
        whole = flat(" ".join(page_texts(read_pdf(client.call(json.dumps(contract).encode(), timeout=30)))))
        assert "Jednající Alžběta Nováková" in whole

        rst = pdfgen.RST2PDF("Zpráva\n======\n\nŽluťoučký kůň.", '{"pageSetup": {"size": "A5"}}', "###Title###",
                             "###Page### z ###Total###")
        texts = page_texts(read_pdf(client.call(rst, timeout=30)))
        assert "Žluťoučký kůň." in texts[0] and "1 z 1" in texts[0]

        with pytest.raises(RemoteError) as error:
            client.call(pdfgen.RST2PDF("Text.", '{"styles": {"bodytext": {"fontSise": 9}}}', None, None), timeout=30)
        assert error.value.exception_name == "StyleSheetError"
        assert "unknown setting(s) fontSise" in error.value.exception


@pytest.mark.slow
def test_worker_without_fonts_runs_and_answers_with_the_install_hint(vhost: str, state_dir: Path,
                                                                     tmp_path: Path) -> None:
    empty = tmp_path / "no-fonts"
    empty.mkdir()
    config = write_config(tmp_path / "amqpd.ini", vhost, state_dir, {"pdfgen": {"options": {"font_dir": str(empty)}}})
    with running_worker(config, "pdfgen", tmp_path / "worker.log"), \
            RPCClient(BROKER, vhost, "pdfgen", registry=REGISTRY) as client:
        note = (state_dir / "notes" / "pdfgen.txt").read_text()
        assert str(empty) in note and "apt-get install fonts-dejavu-core" in note
        with pytest.raises(RemoteError) as error:
            client.call(pdfgen.GenerateReview(nazev="Kniha"), timeout=30)
        assert error.value.exception_name == "BackendUnavailable"
        assert "fonts-dejavu-core" in error.value.exception
