#! /usr/bin/env python3
# -*- coding: utf-8 -*-
"""
Standalone daemon answering Aleph-like requests, written against edeposit.amqp the way the old docs and
the old bin/edeposit_amqp_alephdaemon.py did it; only the Python 2 syntax was changed.

::

    ./alephdaemon.py start/stop/restart [--foreground]
"""
# Imports =====================================================================
import sys

from pika.exceptions import ConnectionClosed

from edeposit.amqp.aleph import *  # for serializers

from edeposit.amqp import settings
from edeposit.amqp.amqpdaemon import AMQPDaemon, getConParams
from edeposit.amqp.serializers import iiOfAny


# Functions & objects =========================================================
def reactToAMQPMessage(message, UUID):
    """
    React to `message`; `UUID` identifies the request (and sends progress messages when called).
    """
    print("serving request %s" % UUID)
    sys.stdout.flush()

    if iiOfAny(message, ISBNValidationRequest):
        return ISBNValidationResult(is_valid=message.ISBN == "80-251-0225-4")

    if iiOfAny(message, SearchRequest):
        UUID(CountResult(num_of_records=1))  # a progress message
        record = AlephRecord(
            base="nkc",
            library="NKC01",
            docNumber="000000001",
            xml="<record/>",
            parsed_info=EPublication(ISBN=message.query.ISBN, nazev="Babička"),
            semantic_info=None,
        )
        return SearchResult(records=[record])

    raise ValueError("Unrecognized message: %s" % type(message).__name__)


def main():
    """
    Arguments parsing, etc..
    """
    daemon = AMQPDaemon(
        con_param=getConParams(
            settings.RABBITMQ_ALEPH_VIRTUALHOST
        ),
        queue=settings.RABBITMQ_ALEPH_INPUT_QUEUE,
        out_exch=settings.RABBITMQ_ALEPH_EXCHANGE,
        out_key=settings.RABBITMQ_ALEPH_OUTPUT_KEY,
        react_fn=reactToAMQPMessage,
        glob=globals()                # used in deserializer
    )

    if "--foreground" in sys.argv:  # run at foreground
        daemon.run()
    else:
        daemon.run_daemon()         # run as daemon


# Main program ================================================================
if __name__ == '__main__':
    try:
        main()
    except ConnectionClosed as e:
        sys.stderr.write(
            str(e) + " - is the RabbitMQ queues properly set?\n"
        )
        sys.exit(1)
