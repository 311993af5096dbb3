"""Reports of a bisection: the library behind `bisect report`, `bisect status`, `bisect log`.

    from fastpath.report import bisection, text, html, status
    report = bisection.load("bisection_context.yaml", tree="/path/to/linux")  # BisectionReport
    text.render(report); html.render(report); report.as_dict()
    status.status(report); status.log(report)

bisection.py reads the context and its output store into the pure data of model.py (an
``engine`` block, engine.py, adds the history, the sessions and the posterior); the other
modules only render it.
"""
