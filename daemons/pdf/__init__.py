"""PDF rendering for the pdfgen daemon: fonts, page furniture, a reST renderer and the form templates.

Everything here is plain reportlab and docutils and runs offline; the handler in
`daemons.handlers.pdfgen` only maps messages onto these functions.
"""
