"""collapse: the computations behind "Model Collapse, Re-derived".

Chapters (``book/*.md``) explain; this package computes. Submodules:
``loop`` (the generational loop and data policies), ``profiles`` (every chapter's settings),
``results`` (results files, claim checks, reproducibility footer), ``plotting`` (the book's
figure style), ``data`` (the data root), ``runner`` (the ``collapse`` command behind
``make book``), and one module per model family.
"""
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("collapse")
except _metadata.PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"
