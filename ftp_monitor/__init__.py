"""Tails the ProFTPD ExtendedLog and publishes upload and import events."""
