"""Temporary alias of the core loop, policies and checkpoints (removed once every family moved)."""
from .core.checks import *  # noqa: F401,F403
from .core.checkpoints import *  # noqa: F401,F403
from .core.family import *  # noqa: F401,F403
from .core.io import atomic_write_bytes  # noqa: F401
from .core.loop import *  # noqa: F401,F403
from .core.policies import *  # noqa: F401,F403
