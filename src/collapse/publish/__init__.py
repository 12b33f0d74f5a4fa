"""The book machinery: the ``collapse`` command (``runner``), every chapter's settings
(``profiles``), results files and claim records (``records``), the claims page
(``claims_page``), the figure style (``plotting``) and a Sphinx extension. It imports no family.
"""
