"""Peer: a nameko echo RPC service in one process, with the guarantees our worker gives.

`max_workers = 1` is nameko's prefetch 1; nameko acks an RPC request after its reply was published, and
publishes replies persistent with publisher confirms by default. The reply goes to the `nameko-rpc`
exchange with the request's reply_to as routing key. Usage: nameko_echo.py VHOST
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()  # nameko runs on eventlet; it must patch before anything else is imported

import signal  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import quote  # noqa: E402

from nameko.rpc import rpc  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402


class Echo:
    name = "echo"

    @rpc
    def echo(self, value: Any) -> Any:
        return value


def main() -> None:
    vhost = sys.argv[1]
    runner = ServiceRunner({"AMQP_URI": f"pyamqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}",
                            "max_workers": 1})
    runner.add_service(Echo)
    signal.signal(signal.SIGTERM, lambda *_: eventlet.spawn_n(runner.stop))  # as `nameko run` does
    runner.start()
    runner.wait()


if __name__ == "__main__":
    main()
