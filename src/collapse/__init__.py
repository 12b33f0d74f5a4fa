"""collapse: the computations behind "Model Collapse, Re-derived".

Chapters (``book/*.md``) explain; this package computes, in three layers:

* ``core``: what every family builds on — the generational loop and its folds (``loop``), data
  policies (``policies``), checkpoints, random streams (``seeds``), the one parallel-job runner
  (``jobs``), statistics over seeds (``stats``), argument checks, files (``io``), the data root
  (``data``) and the experiment protocol (``experiment``);
* one package per chapter: the model families ``gaussian``, ``discrete``, ``gmm``, ``vae``,
  ``language_model``, and the cross-family chapters ``error_sources`` and ``escaping``. Each
  splits into family (fitting and sampling, imports only ``core``), theory, experiments,
  figures and claims, and exposes the protocol ``declare_claims``, ``run``,
  ``record_metrics``, ``evaluate_claims``; the families the escaping chapter compares also
  implement ``policy_run`` (:class:`collapse.core.experiment.PolicyRunner`);
* ``publish``: the book machinery — the ``collapse`` command behind ``make book``
  (``runner``), every chapter's settings (``profiles``), results files and claim records
  (``records``), the claims page, the figure style (``plotting``). It imports no family.
"""
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("collapse")
except _metadata.PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"
