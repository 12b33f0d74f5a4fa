"""Temporary alias of :mod:`collapse.gmm.batched_em` for modules not yet moved (escaping);
removed once every family has moved."""
from .gmm.batched_em import *  # noqa: F401,F403
from .gmm.batched_em import Mixture  # noqa: F401
