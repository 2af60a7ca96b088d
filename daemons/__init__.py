"""The AMQP side of edeposit-amqpd: wire format, RPC worker, client and handlers."""

import importlib.util
import sys
import threading
from typing import Any

__version__ = "2.0.0"


def _load_asyncio_on_first_use() -> None:
    """Note: pika imports asyncio for an adapter the workers never use; loading it costs each worker
    process about 8 MB. Until something reads an attribute of it, `asyncio` stays an empty module.

    Threads may reach for asyncio at the same moment: one loads it under a lock while the others wait
    for it, so nobody sees a half-loaded module (an AttributeError).
    """
    if "asyncio" in sys.modules:
        return
    spec = importlib.util.find_spec("asyncio")
    if spec is None or spec.loader is None:
        return
    loader = spec.loader
    module = importlib.util.module_from_spec(spec)
    lock = threading.RLock()
    state = {"loading": False, "loaded": False}

    def load_and_get(name: str) -> Any:
        with lock:
            if not state["loaded"]:
                if state["loading"]:  # asyncio's own code asking while it loads: not defined yet
                    raise AttributeError(f"module 'asyncio' has no attribute {name!r}")
                state["loading"] = True
                try:
                    loader.exec_module(module)
                finally:
                    state["loading"] = False
                state["loaded"] = True
                if module.__dict__.get("__getattr__") is load_and_get:
                    del module.__dict__["__getattr__"]
        try:
            return module.__dict__[name]
        except KeyError:
            raise AttributeError(f"module 'asyncio' has no attribute {name!r}") from None

    module.__dict__["__getattr__"] = load_and_get
    sys.modules["asyncio"] = module


_load_asyncio_on_first_use()
