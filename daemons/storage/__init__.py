"""storage: keeps publications, archives and periodical trees: a SQLite catalogue and a file tree.

Entry point: `daemons.storage.handler:react`.
"""
