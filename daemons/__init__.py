"""The AMQP side of edeposit-amqpd: wire format, RPC worker, client and handlers."""

__version__ = "2.0.0"
