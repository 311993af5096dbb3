"""Verdicts of a bisection step, the exit codes `git bisect run` understands, the verdict line.

A policy's judge (judges/) looks at the per-session values of the good baseline, the bad baseline and
the tested commit and returns a Decision: GOOD (like the good baseline), BAD (like the bad
one), UNDECIDED (take ``need`` more sessions and ask again) or SKIP (undecided at the
policy's cap). ERROR is not a policy outcome: it is what `bisect run` reports when the
infrastructure failed (SUT unreachable, store unwritable) and git bisect must stop.
"""

from __future__ import annotations

from dataclasses import dataclass

GOOD = "GOOD"
BAD = "BAD"
UNDECIDED = "UNDECIDED"
SKIP = "SKIP"
ERROR = "ERROR"

# git bisect run: 0 good, 1 bad, 125 skip, 128 (any of 128..255 but 125) aborts the bisection.
EXIT_CODES = {GOOD: 0, BAD: 1, SKIP: 125, ERROR: 128}


@dataclass(frozen=True)
class Decision:
    outcome: str          # GOOD, BAD, UNDECIDED or SKIP
    sessions: int         # tested-commit sessions the decision looked at
    need: int = 0         # UNDECIDED only: how many more sessions the policy wants
    reason: str = ""      # one line: the numbers behind the decision

    @property
    def final(self) -> bool:
        return self.outcome != UNDECIDED


def exit_code(outcome: str) -> int:
    """The `git bisect run` exit status for a final outcome (GOOD 0, BAD 1, SKIP 125, ERROR 128)."""
    try:
        return EXIT_CODES[outcome]
    except KeyError:
        raise ValueError(f"no exit code for outcome {outcome!r} (not final)") from None


def verdict_line(outcome: str, resultclass: str, tested: str, good: str, detail: str = "") -> str:
    """The one line `bisect run` prints, in the seed's form.

    >>> verdict_line(BAD, "sysbenchthread-110", "bisect-a1b2c3d4e5f6", "6.8.0-baseline")
    "Result: REGRESSION detected for resultclass 'sysbenchthread-110' comparing 'bisect-a1b2c3d4e5f6' vs '6.8.0-baseline'."
    """
    what = {GOOD: "NO REGRESSION detected", BAD: "REGRESSION detected",
            SKIP: "UNDECIDED (skip)", ERROR: "ERROR"}[outcome]
    line = f"Result: {what} for resultclass '{resultclass}' comparing '{tested}' vs '{good}'."
    return f"{line} {detail}" if detail else line
