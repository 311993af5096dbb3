"""`fastpath bisect start`: every validation, with its message and exit status; the context."""

from __future__ import annotations

import hashlib
import pathlib

import pytest
import yaml

from fastpath.bisect import context as contexts
from fastpath.bisect.params import SprtParams
from fastpath.cli.main import main
from fastpath.store import open_store
from fastpath.store.model import SwProfile
from tests.bisect.conftest import BAD_SHA, BENCH, GOOD_SHA, RC, make_baseline_store


def start_args(sshd, store, ctx, **over):
    args = {"--host": sshd.host, "--user": sshd.user, "--port": str(sshd.port), "--keyfile": sshd.keyfile,
            "--known-hosts": sshd.known_hosts, "--sut": "lab", "--good-swprofile": "v-good",
            "--bad-swprofile": "v-bad", "--benchmark": BENCH, "--resultclass": RC,
            "--resultstore": store, "--context": str(ctx)}
    args.update(over)
    out = ["bisect", "start"]
    for k, v in args.items():
        if v is not None:
            out += [k, v]
    return out


def digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_start_writes_the_seed_context_and_copies_baselines(sshd, tmp_path, baseline_store, capsys):
    ctx_file = tmp_path / "ctx.yaml"
    before = digest(tmp_path / "orig.db")
    assert main(start_args(sshd, baseline_store, ctx_file)) == 0
    assert digest(tmp_path / "orig.db") == before                 # original never written
    data = yaml.safe_load(ctx_file.read_text())
    for key in ("plan", "good-swprofile", "good_sha", "bad-swprofile", "bad_sha", "resultclass",
                "resultstore", "output-resultstore", "policy"):
        assert key in data
    assert data["good_sha"] == GOOD_SHA and data["bad_sha"] == BAD_SHA
    assert data["policy"]["name"] == "sprt" and data["policy"]["params"]["alpha"] == SprtParams().alpha
    plan = data["plan"]
    assert plan["sut"] == {"name": "lab", "connection": {"method": "SSH", "params": {
        "host": sshd.host, "user": sshd.user, "port": sshd.port, "keyfile": sshd.keyfile,
        "known_hosts": sshd.known_hosts}}}
    assert plan["swprofiles"] == [{"cmdline": ["quiet"], "sysctl": [], "bootscript": []}]
    assert plan["benchmarks"] == [{"include": "fp/syscall.yaml", "params": {"iterations": 1000000}}]
    assert plan["defaults"]["benchmark"]["repeats"] == 3 and plan["defaults"]["benchmark"]["sessions"] == 8
    with open_store(data["output-resultstore"], readonly=True) as out:
        assert {s.id for s in out.swprofiles()} == {"v-good", "v-bad"}
        assert out.count_samples() == 2 * 8 * 3
    assert "output-resultstore: sqlite:///" in capsys.readouterr().out
    ctx = contexts.load(ctx_file)
    assert ctx.benchmark == BENCH and ctx.improvement == "lower" and ctx.sut == "lab"


def test_context_round_trip(sshd, tmp_path, baseline_store):
    ctx_file = tmp_path / "ctx.yaml"
    assert main(start_args(sshd, baseline_store, ctx_file, **{"--policy": "fastpath-ci"})) == 0
    ctx = contexts.load(ctx_file)
    assert ctx.policy["name"] == "fastpath-ci"
    ctx.tested.append({"sha": "abc", "outcome": "GOOD"})
    contexts.save(ctx, tmp_path / "again.yaml")
    again = contexts.load(tmp_path / "again.yaml")
    assert again.to_dict() == ctx.to_dict()


@pytest.mark.parametrize("flag,value,message", [
    ("--sut", "nope", "--sut 'nope': no such SUT in sqlite:///"),
    ("--good-swprofile", "nope", "--good-swprofile 'nope': no such swprofile"),
    ("--bad-swprofile", "nope", "--bad-swprofile 'nope': no such swprofile"),
    ("--benchmark", "sysbench/nope", "--benchmark 'sysbench/nope': no such benchmark"),
    ("--resultclass", "nope", "--resultclass 'nope': benchmark 'fp/syscall' has no such result class"),
    ("--policy", "nope", "Invalid value for '--policy'"),
])
def test_start_refuses_unknown_ids(sshd, tmp_path, baseline_store, capsys, flag, value, message):
    status = main(start_args(sshd, baseline_store, tmp_path / "ctx.yaml", **{flag: value}))
    err = capsys.readouterr().err
    assert status in (1, 2) and message in err, err
    assert not (tmp_path / "ctx.yaml").exists()


def run_start(sshd, tmp_path, capsys, **store_kw):
    url = make_baseline_store(f"sqlite:///{tmp_path}/o.db", **store_kw)
    status = main(start_args(sshd, url, tmp_path / "ctx.yaml"))
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert not (tmp_path / "ctx.yaml").exists()
    return status, err


def test_profiles_must_differ_only_in_sha(sshd, tmp_path, capsys):
    bad = SwProfile("v-bad", kernel_name="6.1.1", kernel_git_sha=BAD_SHA, userspace="debian",
                    cmdline=("quiet", "mitigations=off"), sysctl=("kernel.x=1",))
    status, err = run_start(sshd, tmp_path, capsys, bad_profile=bad)
    assert status == 1
    assert "must differ only in kernel_git_sha, but differ in userspace, cmdline, sysctl" in err
    assert "'mitigations=off'" in err


def test_multi_node_sut_is_refused(sshd, tmp_path, capsys):
    status, err = run_start(sshd, tmp_path, capsys, numa_nodes=2)
    assert status == 1 and "has 2 NUMA nodes; bisection needs a single-node SUT" in err


def start_not_apart(sshd, tmp_path, capsys, **store_kw):
    """bisect start over ends worse but not told apart: exit 0, the context with its record,
    and one warning line (stderr) saying what follows."""
    url = make_baseline_store(f"sqlite:///{tmp_path}/o.db", **store_kw)
    status = main(start_args(sshd, url, tmp_path / "ctx.yaml"))
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    warning = captured.err.strip()
    assert warning.startswith("warning: the ends are not yet told apart (")
    assert "`fastpath bisect auto` (the engine) measures the ends itself, up to end_budget=60 end sessions" in warning
    assert "the per-commit flow (`git bisect run` with `bisect run`, `bisect auto --engine git`) needs more " \
           "baseline sessions first: " in warning
    return contexts.load(tmp_path / "ctx.yaml"), warning


def test_noisy_baselines_in_the_right_direction_write_the_context_and_warn(sshd, tmp_path, capsys):
    ctx, warning = start_not_apart(sshd, tmp_path, capsys, bad_mean=100.4, sessions=5)
    rec = ctx.ends_not_apart
    assert rec["reason"].startswith("no significant difference between the baselines (Welch p=")
    assert 0.05 <= rec["p_value"] <= 1
    for end in ("good", "bad"):
        lo, hi = rec[end]["ci95"]
        assert lo < rec[end]["mean"] < hi and rec[end]["sessions"] == 5
    assert rec["bad"]["mean"] > rec["good"]["mean"]          # lower is better: bad is worse, not significantly
    assert f"p={rec['p_value']:.3g}" in warning and "good 'v-good' mean 100" in warning
    assert "policy sprt could not tell them apart" in rec["advice"] and rec["advice"] in warning
    again = tmp_path / "again.yaml"                            # saved and loaded with it
    contexts.save(ctx, again)
    assert contexts.load(again).ends_not_apart == rec
    with open_store(ctx.output_resultstore, readonly=True) as out:     # the baselines are copied
        assert {s.id for s in out.swprofiles()} == {"v-good", "v-bad"}


def test_an_old_context_without_the_record_loads_as_told_apart(sshd, tmp_path, baseline_store):
    ctx_file = tmp_path / "ctx.yaml"
    assert main(start_args(sshd, baseline_store, ctx_file)) == 0
    data = yaml.safe_load(ctx_file.read_text())
    assert "ends-not-apart" not in data and contexts.load(ctx_file).ends_not_apart is None
    data["ends-not-apart"] = "yes"
    ctx_file.write_text(yaml.safe_dump(data))
    with pytest.raises(Exception, match="ends-not-apart"):
        contexts.load(ctx_file)


def test_bad_not_worse_at_all_is_refused_with_means_and_intervals(sshd, tmp_path, capsys):
    status, err = run_start(sshd, tmp_path, capsys, bad_mean=99.6, sessions=5)
    assert status == 1 and "refusing to bisect 'fpsyscall-getppid': 'v-bad' is not worse than 'v-good' at all" in err
    assert "good 'v-good' mean" in err and "bad 'v-bad' mean" in err and err.count("[") == 2


def test_improvement_is_not_bisected(sshd, tmp_path, capsys):
    status, err = run_start(sshd, tmp_path, capsys, bad_mean=90.0)
    assert status == 1 and "'v-bad' is better than 'v-good', not worse" in err


def test_baselines_too_close_for_the_policy_are_written_with_its_advice(sshd, tmp_path, capsys):
    ctx, warning = start_not_apart(sshd, tmp_path, capsys, bad_mean=101.0, sessions=8)
    rec = ctx.ends_not_apart
    assert rec["p_value"] < 0.05 and rec["reason"].startswith("bad is significantly worse (Welch p=")
    assert "but the policy cannot tell the ends apart yet" in rec["reason"] and rec["reason"].count("[") == 2
    assert "policy sprt could not tell them apart" in rec["advice"]
    assert "record about 20 sessions of each baseline" in rec["advice"] and rec["advice"] in warning


def test_missing_baseline_samples(sshd, tmp_path, capsys):
    url = make_baseline_store(f"sqlite:///{tmp_path}/o.db")
    with open_store(url) as store:
        store.put_swprofile(SwProfile("v-empty", kernel_git_sha=BAD_SHA, userspace="busybox", cmdline=("quiet",)))
    status = main(start_args(sshd, url, tmp_path / "ctx.yaml", **{"--bad-swprofile": "v-empty"}))
    err = capsys.readouterr().err
    assert status == 1 and "--bad-swprofile 'v-empty': no baseline results for 'fp/syscall'" in err


def test_missing_sha(sshd, tmp_path, capsys):
    bad = SwProfile("v-bad", kernel_name="6.1.1", kernel_git_sha="", userspace="busybox", cmdline=("quiet",))
    status, err = run_start(sshd, tmp_path, capsys, bad_profile=bad)
    assert status == 1 and "--bad-swprofile 'v-bad': has no kernel_git_sha" in err


def test_unreachable_sut(sshd, tmp_path, baseline_store, capsys):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    status = main(start_args(sshd, baseline_store, tmp_path / "ctx.yaml", **{"--port": str(port)}))
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Error:" in err, err
    assert "Connection refused" in err and "bisect start: " in err and "--port" in err


def test_seed_flags_without_known_hosts_say_what_to_do(sshd, tmp_path, baseline_store, capsys):
    """The seed's --host --user --port --keyfile, with a known_hosts that does not pin the key."""
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    status = main(start_args(sshd, baseline_store, tmp_path / "ctx.yaml", **{"--known-hosts": str(empty)}))
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and not (tmp_path / "ctx.yaml").exists()
    assert err.startswith(f"Error: ssh to {sshd.user}@{sshd.host}:{sshd.port}: the SUT's host key is unknown")
    assert "Host key verification failed." in err
    assert ("bisect start: give the known_hosts file that pins the SUT's key with --known-hosts FILE; the "
            "connection flags are --host, --port, --user, --keyfile, --known-hosts and --power-cycle (a local "
            "command that power-cycles the SUT), and `fastpath lab up` prints them for the lab") in err


def test_a_rejected_key_names_the_flags_to_check(sshd, tmp_path, baseline_store, capsys):
    import subprocess
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    status = main(start_args(sshd, baseline_store, tmp_path / "ctx.yaml", **{"--keyfile": str(tmp_path / "k")}))
    err = capsys.readouterr().err
    assert status == 2 and "the SUT refused the login" in err and "bisect start: check --user and --keyfile" in err


def test_missing_store(sshd, tmp_path, capsys):
    status = main(start_args(sshd, f"{tmp_path}/none", tmp_path / "ctx.yaml"))
    err = capsys.readouterr().err
    assert status in (1, 3) and "none" in err and len(err.strip().splitlines()) == 1, err


def test_policy_params_are_recorded_and_decide_the_start(sshd, tmp_path, capsys):
    url = make_baseline_store(f"sqlite:///{tmp_path}/o.db", bad_mean=101.0, sessions=8)
    ctx_file = tmp_path / "ctx.yaml"
    args = start_args(sshd, url, ctx_file) + ["--policy-param", "alpha=0.05", "--policy-param", "beta=0.05", "--policy-param", "gap_z=0",
                                              "--policy-param", "track_levels=no"]
    assert main(args) == 0, capsys.readouterr().err     # not told apart at the default cap of 30 (above)
    assert contexts.load(ctx_file).ends_not_apart is None
    params = contexts.load(ctx_file).policy["params"]
    assert params["alpha"] == params["beta"] == 0.05 and params["track_levels"] is False
    assert params["max_sessions"] == SprtParams().max_sessions


@pytest.mark.parametrize("param,message", [
    ("alpha=0", "--policy-param: policy 'sprt': bad parameter alpha=0.0 (want 0 < alpha < 0.5)"),
    ("nope=1", "--policy-param: policy 'sprt': unknown parameter 'nope' (known: alpha, beta,"),
    ("alpha", "--policy-param: policy 'sprt': bad parameter setting 'alpha' (want KEY=VALUE)"),
    ("max_sessions=lots", "--policy-param: policy 'sprt': bad parameter max_sessions=lots (want an integer)"),
    ("track_levels=maybe", "--policy-param: policy 'sprt': bad parameter track_levels=maybe (want yes or no)"),
    ("gap_z=nan", "--policy-param: policy 'sprt': bad parameter gap_z=nan (want a number)"),
])
def test_bad_policy_params_are_one_line(sshd, tmp_path, baseline_store, capsys, param, message):
    status = main(start_args(sshd, baseline_store, tmp_path / "ctx.yaml") + ["--policy-param", param])
    err = capsys.readouterr().err.strip()
    assert status == 1 and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "ctx.yaml").exists()


def test_lab_up_prints_bisect_start_flags_that_work(sshd, tmp_path, baseline_store, monkeypatch):
    """LabVm.bisect_flags() (the line `fastpath lab up` prints), for a "lab" whose home holds the
    sshd fixture's key and known_hosts: pasted into bisect start, it connects and starts."""
    import os
    import shlex
    import shutil

    from fastpath.lab.vm import LabVm
    home = tmp_path / "lab home"
    home.mkdir()
    shutil.copy(sshd.keyfile, home / "id_ed25519")
    shutil.copy(sshd.known_hosts, home / "known_hosts")
    monkeypatch.setenv("FASTPATH_LAB_HOME", str(tmp_path / "default-home"))
    lab = LabVm(home=str(home), pid=1, port=sshd.port, accel="tcg", kernel="k", initrd="i", cmdline="",
                started="", boot_seconds=1.0)
    flags = lab.bisect_flags()
    assert shlex.split(flags) == [
        "--host", "127.0.0.1", "--port", str(sshd.port), "--user", "root", "--keyfile", str(home / "id_ed25519"),
        "--known-hosts", str(home / "known_hosts"), "--power-cycle", f"fastpath lab power-cycle --home '{home}'"]
    monkeypatch.setenv("FASTPATH_LAB_HOME", str(home))
    assert shlex.split(LabVm(**{**lab.__dict__}).bisect_flags())[-1] == "fastpath lab power-cycle"
    if os.geteuid() != 0:
        pytest.skip("the lab logs in as root; the sshd fixture logs in only its own user")
    cut = start_args(sshd, baseline_store, tmp_path / "ctx.yaml", **{k: None for k in (
        "--host", "--user", "--port", "--keyfile", "--known-hosts")})
    assert main(["bisect", "start", *shlex.split(flags), *cut[2:]]) == 0
    assert "power_cycle: fastpath lab power-cycle" in (tmp_path / "ctx.yaml").read_text()


# -- what start writes: the context and the output store (issue 14, item 8) -----------------
def context_with_a_tested_commit(sshd, tmp_path, baseline_store, capsys) -> pathlib.Path:
    ctx_file = tmp_path / "ctx.yaml"
    assert main(start_args(sshd, baseline_store, ctx_file)) == 0
    ctx = contexts.load(ctx_file)
    ctx.tested.append({"sha": BAD_SHA, "swprofile": "bisect-" + BAD_SHA[:12], "outcome": "BAD"})
    contexts.save(ctx, ctx_file)
    capsys.readouterr()
    return ctx_file


def test_a_context_with_tested_commits_is_not_overwritten(sshd, tmp_path, baseline_store, capsys):
    ctx_file = context_with_a_tested_commit(sshd, tmp_path, baseline_store, capsys)
    before = ctx_file.read_text()
    assert main(start_args(sshd, baseline_store, ctx_file)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "records 1 tested commit(s) of an earlier bisection" in err, err
    assert "--force" in err and ctx_file.read_text() == before
    assert main([*start_args(sshd, baseline_store, ctx_file), "--force"]) == 0
    assert contexts.load(ctx_file).tested == []


def test_a_context_without_tested_commits_may_be_written_again(sshd, tmp_path, baseline_store, capsys):
    ctx_file = tmp_path / "ctx.yaml"
    assert main(start_args(sshd, baseline_store, ctx_file)) == 0
    assert main(start_args(sshd, baseline_store, ctx_file)) == 0


def test_a_file_that_is_no_context_is_not_overwritten(sshd, tmp_path, baseline_store, capsys):
    other = tmp_path / "notes.yaml"
    other.write_text("my: notes\n")
    assert main(start_args(sshd, baseline_store, other)) == 1
    assert "exists and is not a bisection context" in capsys.readouterr().err
    assert other.read_text() == "my: notes\n"


def test_a_missing_directory_is_not_created(sshd, tmp_path, baseline_store, capsys):
    ctx_file = tmp_path / "nonexistent" / "c.yaml"
    assert main(start_args(sshd, baseline_store, ctx_file)) == 1
    err = capsys.readouterr().err
    assert f"directory {ctx_file.parent} does not exist (create it, or give --force)" in err, err
    assert not ctx_file.parent.exists()
    assert main([*start_args(sshd, baseline_store, ctx_file), "--force"]) == 0
    assert contexts.load(ctx_file).good_sha == GOOD_SHA


def test_output_store_is_the_one_given(sshd, tmp_path, baseline_store, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ctx_file = tmp_path / "ctx.yaml"
    assert main([*start_args(sshd, baseline_store, ctx_file), "--output-resultstore", "sqlite:///out.db"]) == 0
    ctx = contexts.load(ctx_file)
    assert ctx.output_resultstore == f"sqlite:///{tmp_path}/out.db"       # absolute: read from the tree
    with open_store(ctx.output_resultstore, readonly=True) as out:
        assert {s.id for s in out.swprofiles()} == {"v-good", "v-bad"} and out.count_samples() == 2 * 8 * 3
    assert f"output-resultstore: sqlite:///{tmp_path}/out.db" in capsys.readouterr().out


def test_output_store_must_be_new_or_empty_and_not_the_original(sshd, tmp_path, baseline_store, capsys):
    ctx_file = tmp_path / "ctx.yaml"
    assert main([*start_args(sshd, baseline_store, ctx_file), "--output-resultstore", baseline_store]) == 1
    assert "is the --resultstore; the original store is never written" in capsys.readouterr().err
    used = f"sqlite:///{tmp_path}/used.db"
    make_baseline_store(used)
    assert main([*start_args(sshd, baseline_store, ctx_file), "--output-resultstore", used]) == 1
    err = capsys.readouterr().err
    assert "already holds 2 swprofile(s) (v-bad, v-good); give a new or empty store, or --force" in err, err
    assert not ctx_file.exists()
    assert main([*start_args(sshd, baseline_store, ctx_file), "--output-resultstore", used, "--force"]) == 0


def live_memory() -> int:
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal")


@pytest.mark.parametrize("fields, differ", [
    ({"cpu_model": "Neoverse-N1", "cpu_count": 128}, ["cpu_count 128 recorded", "cpu_model 'Neoverse-N1' recorded"]),
    ({"architecture": "aarch64"}, ["architecture 'aarch64' recorded"]),
    ({"memory": "x1.5"}, ["memory"]),
    ({"memory": "x1.01"}, []),                  # MemTotal moves a little between kernels
    ({"host_name": "another-name", "product_name": "renamed"}, []),
])
def test_a_sut_with_another_fingerprint_is_refused(sshd, tmp_path, capsys, fields, differ):
    if fields.get("memory"):
        fields = {"memory": int(live_memory() * float(fields["memory"][1:]))}
    url = make_baseline_store(f"sqlite:///{tmp_path}/o.db", sut_fields=fields)
    status = main(start_args(sshd, url, tmp_path / "ctx.yaml"))
    err = capsys.readouterr().err
    if not differ:
        assert status == 0, err
        return
    assert status == 1 and err.count("\n") == 1, err
    assert f"--host {sshd.host}: not the machine the baselines of SUT 'lab' in sqlite:///" in err, err
    for text in differ:
        assert text in err, err
    assert not (tmp_path / "ctx.yaml").exists()
