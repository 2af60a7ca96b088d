#! /usr/bin/env python3
# -*- coding: utf-8 -*-
"""
An old-style client of the aleph daemon: it puts requests with their UUIDs into the daemon's exchange,
then prints every message of the output queue as one JSON line (UUID, the exception headers and the
deserialized body). Written against edeposit.amqp as the old code was; only Python 3 syntax changed.

::

    ./client.py ISBN
"""
import json
import sys

import pika

from edeposit.amqp import settings
from edeposit.amqp.amqpdaemon import getConParams
from edeposit.amqp.serializers import serialize, deserialize
from edeposit.amqp.aleph import *  # for serializers


def send(channel, request, UUID):
    channel.basic_publish(
        exchange=settings.RABBITMQ_ALEPH_EXCHANGE,
        routing_key=settings.RABBITMQ_ALEPH_INPUT_KEY,
        properties=pika.BasicProperties(
            content_type="application/json",
            delivery_mode=2,
            headers={"UUID": UUID}
        ),
        body=serialize(request)
    )


def receive(channel, expected):
    got = 0
    for method_frame, properties, body in channel.consume(settings.RABBITMQ_ALEPH_OUTPUT_QUEUE,
                                                          inactivity_timeout=30):
        if method_frame is None:
            sys.stderr.write("Timeouted!\n")
            sys.exit(1)

        headers = properties.headers or {}
        if "exception" in headers:
            value = body.decode("utf-8")
        else:
            value = json.loads(serialize(deserialize(body, globals())))

        print(json.dumps({
            "UUID": headers.get("UUID"),
            "content_type": properties.content_type,
            "exception": headers.get("exception"),
            "exception_name": headers.get("exception_name"),
            "exception_type": headers.get("exception_type"),
            "traceback": headers.get("traceback"),
            "value": value,
        }))
        sys.stdout.flush()

        channel.basic_ack(method_frame.delivery_tag)
        got += 1
        if got == expected:
            return


if __name__ == '__main__':
    isbn = sys.argv[1]
    connection = pika.BlockingConnection(getConParams(settings.RABBITMQ_ALEPH_VIRTUALHOST))
    channel = connection.channel()

    send(channel, SearchRequest(query=ISBNQuery(ISBN=isbn)), "search-1")
    send(channel, ISBNValidationRequest(ISBN=isbn), '{"session": "validate-2"}')
    send(channel, CountRequest(query=ISBNQuery(ISBN=isbn)), "count-3")

    receive(channel, expected=4)  # a progress message, two answers, one exception
    connection.close()
