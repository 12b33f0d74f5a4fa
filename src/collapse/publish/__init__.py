"""The book machinery: the ``collapse`` command (``runner``: scheduling and the command line;
``chapters``: the book's shape, parameters and build paths; ``execution``: one chapter in a
kernel the runner can stop; ``cache``: when a chapter may be skipped; ``lock``: one build per
folder; ``site``: the HTML build), every chapter's settings and their schema (``profiles``),
results files and claim records (``records``), the claims page (``claims_page``), the figure
style (``plotting``) and a Sphinx extension. It imports no family.
"""
