"""aleph: searches, counts, ISBN validation and exports against the Aleph catalogue (X-Services over HTTP).

Entry point: `daemons.aleph.handler:react`."""
