"""Compatibility with the old edeposit.amqp Python package: every name delegates to edeposit-amqpd.

See docs/migration.rst for each old name and its new equivalent.
"""
