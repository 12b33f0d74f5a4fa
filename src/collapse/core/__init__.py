"""The core every family builds on; it imports nothing else of ``collapse``.

``loop`` (run_generations, History, folds), ``family`` (what a family implements),
``policies`` (data policies), ``checkpoints``, ``seeds`` (every random stream), ``jobs`` (the
one parallel runner), ``stats`` (summaries over seeds), ``io`` (atomic writes, project root),
``data`` (the data root, checksums), ``checks`` (argument checks), ``experiment`` (the protocol
chapters call).
"""
