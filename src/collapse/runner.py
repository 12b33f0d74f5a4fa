"""Temporary alias of collapse.publish.runner (removed once every family moved)."""
from .publish.runner import *  # noqa: F401,F403
