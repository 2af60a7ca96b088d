"""harvester: reads publishers' OPDS and ONIX feeds and sends each new title once.

Entry point: `daemons.harvester.handler:react`."""
