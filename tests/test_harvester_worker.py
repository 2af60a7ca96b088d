"""The harvester through the real worker and broker: scheduled publishing and HarvestRequest over RPC."""

from __future__ import annotations

from pathlib import Path

import pika
import pytest

from daemons.harvester import handler as harvester
from daemons.rpc.client import RPCClient
from daemons.rpc.wire import StructureRegistry, deserialize
from daemons.testing import BROKER, running_worker, wait_for, write_config
from tests.fixtures.feeds import opds_feed, sample_titles, serve_directory

REGISTRY = StructureRegistry.from_modules([harvester])


def drain(vhost: str, queue: str) -> list[tuple[pika.BasicProperties, object]]:
    """Every message waiting in `queue`, decoded (and acked)."""
    connection = pika.BlockingConnection(BROKER.parameters(vhost, name="harvester test consumer"))
    try:
        channel = connection.channel()
        messages = []
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return messages
            messages.append((properties, deserialize(body, REGISTRY)))
    finally:
        connection.close()


@pytest.mark.slow
def test_schedule_publishes_new_titles_once(vhost: str, state_dir: Path, tmp_path: Path) -> None:
    feed = tmp_path / "catalog.xml"
    feed.write_bytes(opds_feed(sample_titles(3)))
    config = write_config(tmp_path / "amqpd.ini", vhost, state_dir,
                          {"harvester": {"options": {"feeds": f"opds:{feed}", "interval": 1}}})
    with running_worker(config, "harvester", tmp_path / "worker.log") as worker:
        received: list[tuple[pika.BasicProperties, object]] = []
        wait_for(lambda: received.extend(drain(vhost, "plone")) or received, 20, what="scheduled Publications")
        [(properties, first)] = received
        assert properties.headers == {"UUID": ""}
        assert [p.title for p in first.publications] == ["Kniha 0", "Kniha 1", "Kniha 2"]

        wait_for(lambda: "3 titles read, 0 new" in worker.log(), 20, what="a round that finds nothing new")
        assert drain(vhost, "plone") == []

        feed.write_bytes(opds_feed(sample_titles(4)))
        later = wait_for(lambda: drain(vhost, "plone"), 20, what="the added title")
        assert [[p.title for p in value.publications] for _, value in later] == [["Kniha 3"]]


@pytest.mark.slow
def test_harvest_request_is_answered_with_publications(vhost: str, state_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "catalog.xml").write_bytes(opds_feed(sample_titles(2)))
    with serve_directory(tmp_path) as base_url:
        config = write_config(tmp_path / "amqpd.ini", vhost, state_dir,
                              {"harvester": {"options": {"feeds": f"{base_url}catalog.xml", "interval": 0}}})
        with running_worker(config, "harvester", tmp_path / "worker.log"), \
                RPCClient(BROKER, vhost, "harvester", registry=REGISTRY) as client:
            answer = client.call(b'{"__nt_name": "HarvestRequest"}', timeout=20)
            assert isinstance(answer, harvester.Publications)
            assert [p.title for p in answer.publications] == ["Kniha 0", "Kniha 1"]
            assert answer.publications[0].optionals.ISBN == sample_titles(1)[0].isbn
            assert client.call(harvester.HarvestRequest(), timeout=20).publications == []
