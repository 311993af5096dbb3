"""Statistics over benchmark samples: summaries, confidence intervals, comparisons, significance.

Pure functions (no I/O) in ``stats``; grouping of columnar samples in ``group``; from a store to
rows in ``report``; text/CSV/JSON in ``render``; PNG in ``plot``. The session (one boot) is the
unit of replication: see the ``stats`` module docstring for the exact interval and test.

    from fastpath.analysis import (summarize, compare, compare_by_sut, compare_samples,
                                   compare_swprofiles)
"""

from fastpath.analysis.report import Report, Row, compare_swprofiles
from fastpath.analysis.stats import (ALPHA, CONFIDENCE, Comparison, Summary, change_pct, compare,
                                     compare_by_sut, compare_samples, mean_ci, significance,
                                     summarize, welch, welch_p)

__all__ = ["ALPHA", "CONFIDENCE", "Comparison", "Report", "Row", "Summary", "change_pct",
           "compare", "compare_by_sut", "compare_samples", "compare_swprofiles", "mean_ci",
           "significance", "summarize", "welch", "welch_p"]
