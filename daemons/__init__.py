"""The AMQP side of edeposit-amqpd: wire format, RPC worker, client and handlers."""

import importlib.util
import sys
from typing import Any

__version__ = "2.0.0"


def _load_asyncio_on_first_use() -> None:
    """Note: pika imports asyncio for an adapter the workers never use; loading it costs each worker
    process about 8 MB. Until something reads an attribute of it, `asyncio` stays an empty module."""
    if "asyncio" in sys.modules:
        return
    spec = importlib.util.find_spec("asyncio")
    if spec is None or spec.loader is None:
        return
    loader = spec.loader
    module = importlib.util.module_from_spec(spec)

    def load_and_get(name: str) -> Any:
        del module.__dict__["__getattr__"]
        loader.exec_module(module)
        return getattr(module, name)

    module.__dict__["__getattr__"] = load_and_get
    sys.modules["asyncio"] = module


_load_asyncio_on_first_use()
