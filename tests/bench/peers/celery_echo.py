"""Peer: a Celery echo task in one process, set up to give the guarantees our worker gives.

One solo-pool process with prefetch 1 (`worker_prefetch_multiplier = 1`), the request acked after the
task ran (`task_acks_late`), the result sent persistent (`result_persistent`) with publisher confirms
(`confirm_publish`) through the rpc:// backend, i.e. to the request's reply_to queue with its task id as
correlation_id. Gossip, mingle, heartbeats, events and remote control are off: they are cluster chatter
an RPC round trip does not need. Usage: celery_echo.py VHOST
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import quote

from celery import Celery


def make_app(vhost: str) -> Celery:
    app = Celery("bench", broker=f"pyamqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}", backend="rpc://")
    app.conf.update(
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        result_persistent=True,
        broker_transport_options={"confirm_publish": True},
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        worker_send_task_events=False,
        worker_enable_remote_control=False,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )

    @app.task(name="echo")
    def echo(value: Any) -> Any:
        return value

    return app


def main() -> None:
    app = make_app(sys.argv[1])
    app.worker_main(["worker", "--pool=solo", "--concurrency=1", "--without-gossip", "--without-mingle",
                     "--without-heartbeat", "--loglevel=WARNING", "--hostname=bench@localhost"])


if __name__ == "__main__":
    main()
