"""marcxml2mods end to end: a real worker process and the real broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemons.common.safe_xml import parse_xml
from daemons.marcxml2mods import handler as marcxml2mods
from daemons.rpc.client import RemoteError, RPCClient
from daemons.rpc.wire import StructureRegistry
from daemons.testing import BROKER, running_worker, write_config
from tests.test_marcxml2mods import MARC, NS, texts


@pytest.mark.slow
def test_worker_converts_marc_and_refuses_an_xxe_payload(vhost: str, state_dir: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "amqpd.ini", vhost, state_dir, {"marcxml2mods": {}})
    xxe = MARC.replace('<?xml version="1.0" encoding="UTF-8"?>',
                       '<!DOCTYPE collection [<!ENTITY x SYSTEM "file:///etc/hostname">]>')
    with running_worker(config, "marcxml2mods", tmp_path / "worker.log"), \
            RPCClient(BROKER, vhost, "export", registry=StructureRegistry.from_modules([marcxml2mods])) as client:
        response = client.call(marcxml2mods.ConversionRequest(MARC, "uuid-1", "http://e/1"), timeout=30)
        with pytest.raises(RemoteError) as refused:
            client.call(marcxml2mods.ConversionRequest(xxe, "uuid-2", None), timeout=30)

    [mods] = [parse_xml(text) for text in response.mods_files]
    assert texts(mods, "m:identifier[@type='uuid']") == ["uuid-1"]
    assert mods.xpath("m:titleInfo/m:title/text()", namespaces=NS) == ["Ardistan"]
    assert refused.value.exception_name == "UnsafeXMLError"
