"""The optional ``engine`` block a bisection engine (`bisect auto`'s posterior engine) writes
into the context: checked here, once, so the renderers can trust its shape.

    engine:
      name: posterior
      commits: [sha0, ..., shaN]          # good end first, bad end last (full SHAs)
      subjects: [...]                     # optional, same length
      authors: [...]                      # optional, same length: "Name <email>"
      dates: [...]                        # optional, same length: author dates, ISO 8601
      sessions: [{index, sha, value, swprofile, at}, ...]   # every session in order
      status: running | found | inconclusive
      posterior: [0.0, p1, ..., pN]       # P(first bad commit == commits[i])
      answer: {culprit: {sha, probability, step, step_ci95} | null, runner_up: {sha, probability},
               further: [...], improvements: [...], candidates: [{sha, probability}]}
"""

from __future__ import annotations

from dataclasses import dataclass

from fastpath.errors import PlanError
from fastpath.report.model import Candidate

STATUSES = ("running", "found", "inconclusive")


@dataclass(frozen=True)
class Session:
    index: int
    sha: str
    value: float
    swprofile: str
    at: str


@dataclass(frozen=True)
class Engine:
    name: str
    commits: tuple[str, ...]
    subjects: tuple[str, ...]
    sessions: tuple[Session, ...]
    status: str
    posterior: tuple[float, ...]
    culprit: Candidate | None
    runner_up: Candidate | None
    further: tuple[Candidate, ...]
    improvements: tuple[Candidate, ...]
    candidates: tuple[Candidate, ...]
    authors: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()

    def position(self, sha: str) -> int | None:
        for i, c in enumerate(self.commits):
            if sha and (c.startswith(sha) or sha.startswith(c)):
                return i
        return None

    def probability(self, sha: str) -> float | None:
        i = self.position(sha)
        return self.posterior[i] if i is not None and i < len(self.posterior) else None


def parse(block, file: str) -> Engine | None:
    """The Engine of a context's ``engine`` value; None when absent; PlanError naming the key."""
    if block is None:
        return None

    def bad(key: str, what: str):
        return PlanError(what, file=file, key=f"engine.{key}" if key else "engine")

    if not isinstance(block, dict):
        raise bad("", "must be a mapping")
    commits = block.get("commits")
    if not isinstance(commits, list) or len(commits) < 2 or not all(isinstance(c, str) and c for c in commits):
        raise bad("commits", "must list at least two SHAs, good end first")
    per_commit = {}
    for key in ("subjects", "authors", "dates"):
        items = block.get(key) or []
        if not isinstance(items, list) or (items and len(items) != len(commits)):
            raise bad(key, f"must have one {key[:-1]} per commit ({len(commits)})")
        per_commit[key] = tuple(str(s) for s in items)
    status = block.get("status", "running")
    if status not in STATUSES:
        raise bad("status", f"must be one of {', '.join(STATUSES)}")
    posterior = block.get("posterior") or []
    if not isinstance(posterior, list) or (posterior and len(posterior) != len(commits)):
        raise bad("posterior", f"must have one probability per commit ({len(commits)})")
    try:
        posterior = tuple(float(p) for p in posterior)
        sessions = tuple(Session(int(s.get("index", i)), str(s["sha"]), float(s["value"]),
                                 str(s.get("swprofile") or ""), str(s.get("at") or ""))
                         for i, s in enumerate(block.get("sessions") or []))
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise bad("sessions", f"each needs sha and a numeric value ({err})") from None
    answer = block.get("answer") or {}
    if not isinstance(answer, dict):
        raise bad("answer", "must be a mapping")
    return Engine(str(block.get("name") or "engine"), tuple(commits), per_commit["subjects"], sessions,
                  status, posterior, _candidate(answer.get("culprit"), bad, "answer.culprit"),
                  _candidate(answer.get("runner_up"), bad, "answer.runner_up"),
                  *(tuple(_candidate(c, bad, f"answer.{key}") for c in answer.get(key) or [])
                    for key in ("further", "improvements", "candidates")),
                  authors=per_commit["authors"], dates=per_commit["dates"])


def _candidate(item, bad, key: str) -> Candidate | None:
    if item is None:
        return None
    if not isinstance(item, dict) or not isinstance(item.get("sha"), str):
        raise bad(key, "needs a sha")
    try:
        ci = item.get("step_ci95")
        return Candidate(item["sha"], _num(item.get("probability")), _num(item.get("step")),
                         (float(ci[0]), float(ci[1])) if ci else None)
    except (TypeError, ValueError, IndexError):
        raise bad(key, "probability, step and step_ci95 must be numbers") from None


def _num(x) -> float | None:
    return None if x is None else float(x)
