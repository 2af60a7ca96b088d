"""The runtime every RPC daemon shares: worker, connection, wire format, answers, topology, settings,
handler loading, poison tracking, backoff, client, the built-in daemon table, vhosts and the runner."""
