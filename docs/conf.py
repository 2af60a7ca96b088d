"""Sphinx configuration for the edeposit-amqpd documentation."""

project = "edeposit-amqpd"
author = "edeposit-amqpd developers"
copyright = "2014-2026, edeposit-amqpd developers"
release = "2.0.0"
extensions: list[str] = []
master_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
