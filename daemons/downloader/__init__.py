"""downloader: fetches files over HTTP(S) for clients, refusing private addresses unless allowed.

Entry point: `daemons.downloader.handler:react`."""
