"""pdfgen: renders contracts, review forms and reStructuredText to PDF (reportlab, docutils; offline).

Entry point: `daemons.pdfgen.handler:react`; the other modules are the fonts, page furniture, the reST
renderer and the form templates.
"""
