"""The master side of edeposit-amqpd: config, supervisord control and the `edeposit-amqpd` CLI."""
