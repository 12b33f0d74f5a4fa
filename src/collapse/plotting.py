"""Temporary alias of collapse.publish.plotting (removed once every family moved)."""
from .publish.plotting import *  # noqa: F401,F403
