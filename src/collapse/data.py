"""Temporary alias of collapse.core.data (removed once every family moved)."""
from .core.data import *  # noqa: F401,F403
