"""calibre: converts e-books between formats with calibre's ebook-convert.

Entry point: `daemons.calibre.handler:react`."""
