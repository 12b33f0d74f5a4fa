"""Temporary alias of collapse.publish.records and claims_page (removed once every family moved)."""
from .core.io import PROJECT_ROOT  # noqa: F401
from .publish.claims_page import *  # noqa: F401,F403
from .publish.claims_page import ClaimsSummary, claims_html, claims_summary  # noqa: F401
from .publish.records import *  # noqa: F401,F403
from .publish.records import Claim, ChapterRecord, VERDICTS  # noqa: F401
