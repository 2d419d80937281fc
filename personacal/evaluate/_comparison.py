"""Old import location of :class:`Comparison`, kept only until the pipeline modules import it publicly.

``personacal._pipeline`` and ``personacal._custom_job`` read ``from .evaluate._comparison import
Comparison`` before issue 9; they now use ``from .evaluate import Comparison``. Delete this module
once that change (issue 9, part B) is on main.
"""

from ._compare import Comparison

__all__ = ["Comparison"]
