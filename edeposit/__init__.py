"""The old edeposit namespace, kept so that code written for edeposit.amqp imports unchanged."""
