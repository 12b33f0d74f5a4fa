"""Temporary alias of collapse.publish.profiles (removed once every family moved)."""
from .publish.profiles import *  # noqa: F401,F403
