"""marcxml2mods: converts MARC XML records to MODS documents.

Entry point: `daemons.marcxml2mods.handler:react`."""
