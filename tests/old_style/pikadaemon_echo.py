#! /usr/bin/env python3
"""
A daemon on the bare PikaDaemon, as old code subclassed it: it answers each request with a progress
message and an echo of the body, and copies the body to the exchange `echo-copies`.

::

    ECHO_VHOST=vhost ./pikadaemon_echo.py start/stop/restart [-f]
"""
import os

from edeposit.amqp.amqpdaemon import getConParams
from edeposit.amqp.pikadaemon import PikaDaemon


class EchoDaemon(PikaDaemon):
    def onMessageReceived(self, method_frame, properties, body):
        UUID = properties.headers["UUID"]
        self.sendResponse('{"step": 1}', UUID, self.output_key)
        self.sendMessage("echo-copies", "copy", body, UUID=UUID)
        self.sendResponse(body, UUID, self.output_key)
        self.ack(method_frame.delivery_tag)
        return True


if __name__ == '__main__':
    daemon = EchoDaemon(getConParams(os.environ["ECHO_VHOST"]), "echo_in", "echo", "result")
    daemon.run_daemon()
