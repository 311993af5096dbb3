"""`fastpath bisect run`: exit statuses 0/1/125/128 only, the verdict line, reuse of sessions."""

from __future__ import annotations

import socket
import subprocess

import numpy as np
import pytest
import yaml

from fastpath.bisect import context as contexts
from fastpath.bisect.run import run
from fastpath.bisect.verdict import BAD, ERROR, GOOD, SKIP, exit_code, verdict_line
from fastpath.cli.main import main
from fastpath.store import open_store
from fastpath.store.model import SwProfile
from tests.bisect.conftest import add_sessions, make_baseline_store
from tests.bisect.test_start import start_args

SHA = "abcdef0123456789abcdef0123456789abcdef01"


@pytest.fixture
def ctx_file(sshd, tmp_path, baseline_store):
    path = tmp_path / "ctx.yaml"
    assert main(start_args(sshd, baseline_store, path)) == 0
    return path


@pytest.fixture
def kernel(tmp_path):
    image = tmp_path / "bzImage"
    image.write_bytes(b"not really a kernel")
    return str(image)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def edit(ctx_file, fn):
    data = yaml.safe_load(ctx_file.read_text())
    fn(data)
    ctx_file.write_text(yaml.safe_dump(data))


def add_tested(ctx_file, means):
    ctx = contexts.load(ctx_file)
    with open_store(ctx.output_resultstore) as store:
        store.put_swprofile(SwProfile("bisect-" + SHA[:12], "6.1.0", SHA, "busybox", ("quiet",)))
        add_sessions(store, "bisect-" + SHA[:12], means)


def cli_status(argv) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


def test_exit_codes_and_verdict_line():
    assert [exit_code(o) for o in (GOOD, BAD, SKIP, ERROR)] == [0, 1, 125, 128]
    with pytest.raises(ValueError):
        exit_code("UNDECIDED")
    assert verdict_line(BAD, "sysbenchthread-110", "bisect-a1b2c3d4e5f6", "6.8.0-baseline") == (
        "Result: REGRESSION detected for resultclass 'sysbenchthread-110' comparing "
        "'bisect-a1b2c3d4e5f6' vs '6.8.0-baseline'.")
    assert verdict_line(GOOD, "rc", "bisect-x", "g").startswith("Result: NO REGRESSION detected for")


@pytest.mark.parametrize("means,status,word", [
    ([110.2, 109.8, 110.1], 1, "Result: REGRESSION detected"),
    ([99.9, 100.1, 100.0], 0, "Result: NO REGRESSION detected"),
])
def test_sessions_already_measured_are_reused(ctx_file, kernel, capsys, means, status, word):
    """The SUT is unreachable here: a decision from stored sessions must not need it."""
    add_tested(ctx_file, means)
    edit(ctx_file, lambda d: d["plan"]["sut"]["connection"]["params"].update(port=closed_port()))
    assert cli_status(["bisect", "run", "--context", str(ctx_file), "--kernel", kernel, "--gitsha", SHA]) == status
    out = capsys.readouterr().out
    assert f"{word} for resultclass 'fpsyscall-getppid' comparing 'bisect-{SHA[:12]}' vs 'v-good'." in out
    assert contexts.load(ctx_file).tested[-1]["outcome"] == (BAD if status else GOOD)


def test_unreachable_sut_is_error_128(ctx_file, kernel, capsys):
    def unreachable(d):
        d["plan"]["sut"]["connection"]["params"].update(port=closed_port())
        d["plan"]["sut"]["boot_timeout"] = 3       # how long the executor waits for SSH
    edit(ctx_file, unreachable)
    assert cli_status(["bisect", "run", "--context", str(ctx_file), "--kernel", kernel, "--gitsha", SHA]) == 128
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error:") and len(err.splitlines()) == 1, err


def test_unwritable_store_is_error_128(ctx_file, kernel, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    edit(ctx_file, lambda d: d.update({"output-resultstore": f"sqlite:///{blocker}/results.db"}))
    assert cli_status(["bisect", "run", "--context", str(ctx_file), "--kernel", kernel, "--gitsha", SHA]) == 128
    err = capsys.readouterr().err.strip()
    assert "a-file" in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("argv,message", [
    (["--context", "CTX"], "Missing option '--kernel'"),
    (["--context", "CTX", "--kernel", "/no/such/bzImage", "--gitsha", SHA], "--kernel /no/such/bzImage: no such file"),
    (["--context", "/no/ctx.yaml", "--kernel", "KERNEL", "--gitsha", SHA], "bisection context /no/ctx.yaml: cannot read"),
])
def test_bad_usage_is_128_never_a_bad_verdict(ctx_file, kernel, capsys, argv, message):
    argv = [a.replace("CTX", str(ctx_file)).replace("KERNEL", kernel) for a in argv]
    assert cli_status(["bisect", "run", *argv]) == 128
    assert message in capsys.readouterr().err


def test_malformed_context(tmp_path, kernel, capsys):
    bad = tmp_path / "ctx.yaml"
    bad.write_text("plan: {sut: {name: x}}\ngood-swprofile: [\n")
    assert cli_status(["bisect", "run", "--context", str(bad), "--kernel", kernel, "--gitsha", SHA]) == 128
    assert f"{bad}:" in capsys.readouterr().err
    bad.write_text(yaml.safe_dump({"plan": {"sut": {"name": "x"}}}))
    result = run(str(bad), kernel, None, SHA)
    assert result.outcome == ERROR and "key 'good-swprofile': missing" in result.line


def test_real_process_exit_status(ctx_file, kernel):
    """What git bisect sees: the status of the `fastpath` process."""
    add_tested(ctx_file, [110.0, 110.3, 109.9])
    proc = subprocess.run(["fastpath", "bisect", "run", "--context", str(ctx_file), "--kernel", kernel,
                           "--gitsha", SHA], capture_output=True, text=True)
    assert proc.returncode == 1 and "REGRESSION detected" in proc.stdout
    proc = subprocess.run(["fastpath", "bisect", "run", "--context", str(ctx_file)], capture_output=True,
                          text=True)
    assert proc.returncode == 128 and "Traceback" not in proc.stderr


EARLIER = {GOOD: "1234567890ab" + "c" * 28, BAD: "ba0987654321" + "d" * 28}


def test_levels_tracked_over_earlier_steps(ctx_file, kernel, capsys):
    """The machine moved +3 since the baselines (good ~100, bad ~110, lower is better): an
    earlier GOOD step measured 103, an earlier BAD one 113. A commit at 103.5 is then
    GOOD, decided from its stored sessions and the context's `tested` list (the SUT is
    unreachable), where the baselines alone would not call it GOOD."""
    from fastpath.bisect import data
    from fastpath.bisect import run as runs

    ctx = contexts.load(ctx_file)
    with open_store(ctx.output_resultstore) as store:
        for outcome, sha in EARLIER.items():
            name = "bisect-" + sha[:12]
            store.put_swprofile(SwProfile(name, "6.1.0", sha, "busybox", ("quiet",)))
            add_sessions(store, name, [103.0 if outcome == GOOD else 113.0] * 20, seed=3)
            ctx.tested.append({"sha": sha, "swprofile": name, "outcome": outcome, "sessions": 20})
        # a SHA tested twice counts once, with its last outcome
        ctx.tested.append(dict(ctx.tested[0]))
        contexts.save(ctx, ctx_file)
        hist = runs.history(contexts.load(ctx_file), store, "bisect-" + SHA[:12])
        good = data.session_values(store, "lab", "v-good", "fp/syscall", "fpsyscall-getppid")
        bad = data.session_values(store, "lab", "v-bad", "fp/syscall", "fpsyscall-getppid")
    assert [(o, len(v)) for o, v in hist] == [(GOOD, 20), (BAD, 20)]
    assert all(abs(v - 103.0) < 0.1 for v in hist[0][1])
    add_tested(ctx_file, [103.5, 103.5, 103.5])
    stale = contexts.load(ctx_file).judge(good, bad).decide([103.5] * 3)
    assert stale.outcome != GOOD, stale.reason

    def unreachable(d):
        d["plan"]["sut"]["connection"]["params"].update(port=closed_port())
        d["plan"]["sut"]["boot_timeout"] = 3
    edit(ctx_file, unreachable)
    assert cli_status(["bisect", "run", "--context", str(ctx_file), "--kernel", kernel, "--gitsha", SHA]) == 0
    assert "NO REGRESSION detected" in capsys.readouterr().out
    last = contexts.load(ctx_file).tested[-1]
    assert last["outcome"] == GOOD and "tracked over 40 earlier sessions" in last["reason"]


@pytest.fixture
def noisy_ctx_file(sshd, tmp_path):
    """A context whose ends bisect start could not tell apart (bad worse, not significantly)."""
    url = make_baseline_store(f"sqlite:///{tmp_path}/noisy.db", bad_mean=100.4, sessions=5)
    path = tmp_path / "noisy.yaml"
    assert main(start_args(sshd, url, path)) == 0
    assert contexts.load(path).ends_not_apart
    return path


def test_ends_not_told_apart_stop_the_per_commit_flow_at_once(noisy_ctx_file, kernel, capsys):
    """128 and one line, before anything is booted: git bisect run stops at the first step."""
    capsys.readouterr()
    ctx = contexts.load(noisy_ctx_file)
    with open_store(ctx.output_resultstore, readonly=True) as store:
        before = ({s.id for s in store.swprofiles()}, store.count_samples())
    assert cli_status(["bisect", "run", "--context", str(noisy_ctx_file), "--kernel", kernel, "--gitsha", SHA]) == 128
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and not captured.out, captured
    assert err.startswith(f"Error: {noisy_ctx_file}: the ends are not yet told apart (no significant difference")
    assert "policy sprt could not tell them apart" in err and "`fastpath bisect auto`" in err
    with open_store(ctx.output_resultstore, readonly=True) as store:
        assert ({s.id for s in store.swprofiles()}, store.count_samples()) == before     # nothing booted
    assert contexts.load(noisy_ctx_file).tested == []
    proc = subprocess.run(["fastpath", "bisect", "run", "--context", str(noisy_ctx_file), "--kernel", kernel,
                           "--gitsha", SHA], capture_output=True, text=True)
    assert proc.returncode == 128 and "the ends are not yet told apart" in proc.stderr


def test_baseline_sessions_added_since_tell_the_ends_apart_and_clear_the_record(noisy_ctx_file, kernel, capsys):
    ctx = contexts.load(noisy_ctx_file)
    with open_store(ctx.output_resultstore) as store:       # the advice followed: more baseline sessions
        rng = np.random.default_rng(5)
        add_sessions(store, "v-good", 100.0 + 0.3 * rng.standard_normal(25), first=5)
        add_sessions(store, "v-bad", 103.0 + 0.3 * rng.standard_normal(25), first=5)
    add_tested(noisy_ctx_file, [103.1, 102.9, 103.0, 103.2])
    edit(noisy_ctx_file, lambda d: d["plan"]["sut"]["connection"]["params"].update(port=closed_port()))
    assert cli_status(["bisect", "run", "--context", str(noisy_ctx_file), "--kernel", kernel, "--gitsha", SHA]) == 1
    assert "Result: REGRESSION detected" in capsys.readouterr().out
    again = contexts.load(noisy_ctx_file)
    assert again.ends_not_apart is None and again.tested[-1]["outcome"] == BAD
    assert "ends-not-apart" not in yaml.safe_load(noisy_ctx_file.read_text())
