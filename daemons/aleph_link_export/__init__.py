"""aleph_link_export: sends document links to Aleph through a file exchange and reports its results.

Entry point: `daemons.aleph_link_export.handler:react`."""
