"""The progress line: planned work shows done/left and an ETA; open-ended work (a bisection step,
which boots sessions until its sequential test decides) shows only what is done."""

from __future__ import annotations

import io

from fastpath.execute.progress import Progress


def test_planned_progress_counts_down_and_grows_when_a_session_is_redone():
    out = io.StringIO()
    bar = Progress(10, stream=out)
    bar.at("v6.1", "0", "fp/syscall")
    bar.add(4)
    bar.grow(2)
    line = bar.line()
    assert line.startswith("[v6.1 | session 0 | fp/syscall | samples 4/12, 8 left | elapsed 0:00:0")
    assert "ETA 0:00:0" in line
    assert out.getvalue().splitlines()[0].startswith("[v6.1 | session 0 | fp/syscall | samples 0/10, 10 left")


def test_open_ended_progress_has_no_total_and_no_eta():
    out = io.StringIO()
    bar = Progress(None, stream=out)
    bar.at("bisect-0123456789ab", "1")
    bar.add(5)
    bar.grow(5)
    assert bar.line().startswith("[bisect-0123456789ab | session 1 | samples 5 | elapsed ")
    assert "ETA" not in bar.line() and "left" not in bar.line()
    bar.finish()
    assert out.getvalue().splitlines()[-1].startswith("done: 5 samples in ")


def test_disabled_progress_prints_nothing():
    out = io.StringIO()
    bar = Progress(3, stream=out, enabled=False)
    bar.at("a", "0")
    bar.add(3)
    bar.finish()
    assert out.getvalue() == ""
