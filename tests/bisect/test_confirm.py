"""`fastpath bisect confirm`: statuses 0/1/125/128, reuse of recorded pairs, the SUT untouched
when the recorded sessions decide."""

from __future__ import annotations

import pytest

from fastpath.bisect import context as contexts
from fastpath.bisect.confirm import confirm
from fastpath.store import open_store
from fastpath.store.model import SwProfile
from tests.bisect.conftest import add_sessions
from tests.bisect.test_run import cli_status, closed_port, ctx_file, edit, kernel  # noqa: F401 (fixtures)

CULPRIT = "c0ffee0123456789abcdef0123456789abcdef01"
PARENT = "fa11ed0123456789abcdef0123456789abcdef01"


def add_pairs(ctx_file, parent_means, culprit_means):
    ctx = contexts.load(ctx_file)
    with open_store(ctx.output_resultstore) as store:
        for sha, means in ((PARENT, parent_means), (CULPRIT, culprit_means)):
            name = "confirm-" + sha[:12]
            store.put_swprofile(SwProfile(name, "6.1.0", sha, "busybox", ("quiet",)))
            add_sessions(store, name, means)


def argv(ctx_file, kernel):
    return ["bisect", "confirm", "--context", str(ctx_file), "--kernel", kernel, "--gitsha", CULPRIT,
            "--parent-kernel", kernel, "--parent-gitsha", PARENT]


def unreachable(ctx_file):
    def edit_fn(d):
        d["plan"]["sut"]["connection"]["params"].update(port=closed_port())
        d["plan"]["sut"]["boot_timeout"] = 3
    edit(ctx_file, edit_fn)


@pytest.mark.parametrize("parent,culprit,status,word", [
    ([100.1, 99.9, 100.0], [110.2, 109.8, 110.1], 0, "Confirm: CONFIRMED: confirm-c0ffee012345 is worse"),
    ([110.1, 109.9, 110.0], [110.2, 109.8, 110.1], 1, "Confirm: REJECTED: no step between confirm-fa11ed012345"),
])
def test_recorded_pairs_decide_without_the_sut(ctx_file, kernel, capsys, parent, culprit, status, word):
    add_pairs(ctx_file, parent, culprit)
    unreachable(ctx_file)
    assert cli_status(argv(ctx_file, kernel)) == status
    out = capsys.readouterr().out
    assert word in out and "interleaved pairs" in out


def test_needing_sessions_from_an_unreachable_sut_is_error_128(ctx_file, kernel, capsys):
    add_pairs(ctx_file, [100.1], [110.2])          # one pair: the policy needs at least two
    unreachable(ctx_file)
    assert cli_status(argv(ctx_file, kernel)) == 128
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error:") and len(err.splitlines()) == 1, err


def test_usage_errors_are_128(ctx_file, kernel, capsys):
    assert cli_status(["bisect", "confirm", "--context", str(ctx_file), "--kernel", kernel,
                       "--gitsha", CULPRIT]) == 128
    assert "Missing option '--parent-kernel'" in capsys.readouterr().err
    result = confirm(str(ctx_file), kernel, None, CULPRIT, kernel, None, CULPRIT)
    assert result.exit_code == 128 and "name the same commit" in result.line
    result = confirm(str(ctx_file), kernel, None, CULPRIT, "/no/such/img", None, PARENT)
    assert result.exit_code == 128 and "'parent_kernel' /no/such/img: no such file" in result.line
