"""A static pool on the loopback sshd (two members, one machine): plan schema, spreading of
sessions, identical-SUT check, resume; no lab needed."""

from __future__ import annotations

import collections
import dataclasses
import io

import pytest
import yaml

from fastpath.cli.main import main
from fastpath.errors import PlanError, UserError
from fastpath.execute import run_plan
from fastpath.plan import load_plan
from fastpath.pool.identical import check_identical
from fastpath.store import open_store
from fastpath.sut.fingerprint import parse

pytestmark = pytest.mark.pool

BENCH = [{"include": "sysbench/cpu.yaml", "params": {"max_prime": 2000, "time": 0, "events": 200}}]


def pool_plan(tmp_path, sshd, members=("a", "b"), sessions=3, extra=None, swprofiles=("running",)):
    params = sshd.params()
    shared = {k: params[k] for k in ("user", "keyfile", "known_hosts")}
    sut = {"name": "loop", "connection": {"method": "SSH", "params": shared},
           "pool": {"suts": [{"name": m, "host": params["host"], "port": params["port"]}
                             for m in members], **(extra or {})}}
    plan = {"sut": sut, "swprofiles": [{"name": n} for n in swprofiles], "benchmarks": BENCH,
            "defaults": {"benchmark": {"warmups": 0, "repeats": 2, "sessions": sessions,
                                       "timeout": "60s"}}}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def test_plan_schema_reads_a_static_and_a_labgrid_pool(tmp_path, sshd):
    plan = load_plan(pool_plan(tmp_path, sshd))
    pool = plan.sut.pool
    assert pool.kind == "static" and [m.name for m in pool.suts] == ["a", "b"]
    assert pool.suts[0].connection.port == sshd.port and pool.suts[0].connection.user == sshd.user
    assert pool.suts[1].connection.keyfile == sshd.keyfile
    lg = tmp_path / "lg.yaml"
    data = yaml.safe_load(pool_plan(tmp_path, sshd).read_text())
    data["sut"]["pool"] = {"labgrid": {"coordinator": "127.0.0.1:20408", "tags": {"board": "altra"},
                                       "count": 2, "wait": "10m", "prio": 5}}
    lg.write_text(yaml.safe_dump(data))
    spec = load_plan(lg).sut.pool
    assert (spec.kind, spec.coordinator, spec.tags, spec.count, spec.wait, spec.prio) == \
        ("labgrid", "127.0.0.1:20408", (("board", "altra"),), 2, 600.0, 5.0)


@pytest.mark.parametrize("change, message", [
    (lambda p: p["suts"].append(dict(p["suts"][0])), "duplicate SUT name 'a'"),
    (lambda p: p.update(count=3), "the pool lists only 2 SUTs"),
    (lambda p: p.update(labgrid={"coordinator": "x:1", "tags": {"b": "y"}, "count": 1}),
     "exactly one of 'suts'"),
    (lambda p: p.clear() or p.update(labgrid={"coordinator": "nohost", "tags": {"board": "a"},
                                              "count": 1}), "expected HOST:PORT"),
    (lambda p: p.clear() or p.update(labgrid={"coordinator": "h:1", "tags": {"Board": "a"},
                                              "count": 1}), "labgrid tag key"),
])
def test_bad_pools_are_refused_naming_the_key(tmp_path, sshd, change, message):
    path = pool_plan(tmp_path, sshd)
    data = yaml.safe_load(path.read_text())
    change(data["sut"]["pool"])
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(PlanError, match=message) as err:
        load_plan(path)
    assert "sut.pool" in str(err.value)


def test_sessions_spread_over_the_pool_and_every_sample_names_its_sut(tmp_path, sshd):
    out = io.StringIO()
    outcome = run_plan(load_plan(pool_plan(tmp_path, sshd, swprofiles=("p", "q"))),
                       f"sqlite:///{tmp_path}/r.db", stream=out)
    assert outcome.samples == 2 * 3 * 2 and outcome.errors == 0
    with open_store(f"sqlite:///{tmp_path}/r.db", readonly=True) as store:
        assert sorted(s.id for s in store.suts()) == ["loop@a", "loop@b"]
        per = collections.Counter((s.swprofile, s.status) for s in store.sessions())
        assert per == {("p", "complete"): 3, ("q", "complete"): 3}
        assert {s.sut for s in store.samples()} == {"loop@a", "loop@b"}
        keys = [(s.sut, s.swprofile, s.session, s.repeat) for s in store.samples()]
        assert len(keys) == len(set(keys)) == 12
    assert "on a |" in out.getvalue() and "on b |" in out.getvalue()


def test_append_counts_sessions_over_the_whole_pool(tmp_path, sshd):
    store = f"sqlite:///{tmp_path}/r.db"
    run_plan(load_plan(pool_plan(tmp_path, sshd, sessions=2)), store, progress=False)
    outcome = run_plan(load_plan(pool_plan(tmp_path, sshd, sessions=3)), store, append=True,
                       progress=False)
    assert len(outcome.swprofiles[0].sessions) == 1
    with open_store(store, readonly=True) as s:
        assert sum(x.status == "complete" for x in s.sessions()) == 3


def test_cli_plan_exec_runs_a_pool_and_result_show_splits_by_sut(tmp_path, sshd, capsys):
    store = str(tmp_path / "csv")
    assert main(["plan", "exec", "--no-progress", "--output", store,
                 str(pool_plan(tmp_path, sshd))]) == 0
    assert main(["result", "show", store, "--swprofile", "running", "--sut", "loop@a"]) == 0
    assert "loop@a" in capsys.readouterr().out


FP = "architecture=x86_64\ncpu_count=4\ncpu_model=Xeon\nmemory_kib=1000000\nuserspace=Debian\n"


def test_identical_check_names_the_field_that_differs():
    same = parse(FP + "host_name=one\n")
    check_identical({"a": same, "b": parse(FP + "host_name=two\n"),
                     "c": parse(FP.replace("1000000", "1010000"))})
    with pytest.raises(UserError, match=r"cpu_count is 4 on a but 8 on b"):
        check_identical({"a": same, "b": parse(FP.replace("cpu_count=4", "cpu_count=8"))})
    with pytest.raises(UserError, match=r"userspace is 'Debian' on a but 'Alpine' on c"):
        check_identical({"a": same, "c": parse(FP.replace("Debian", "Alpine"))})
    with pytest.raises(UserError, match="memory"):
        check_identical({"a": same, "b": parse(FP.replace("1000000", "2000000"))})


def test_a_sut_that_does_not_answer_is_released_and_the_others_run_everything(tmp_path, sshd):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]              # nothing listens there once closed
    path = pool_plan(tmp_path, sshd)
    data = yaml.safe_load(path.read_text())
    data["sut"]["boot_timeout"] = "3s"
    data["sut"]["pool"]["suts"][1]["port"] = dead
    path.write_text(yaml.safe_dump(data))
    out = io.StringIO()
    outcome = run_plan(load_plan(path), f"sqlite:///{tmp_path}/r.db", stream=out)
    assert len(outcome.swprofiles[0].sessions) == 3
    assert "pool: b does not answer" in out.getvalue()
    with open_store(f"sqlite:///{tmp_path}/r.db", readonly=True) as store:
        assert [s.id for s in store.suts()] == ["loop@a"]


def test_sut_fingerprint_plan_fingerprints_every_sut_of_the_pool(tmp_path, sshd, capsys):
    assert main(["sut", "fingerprint", "--plan", str(pool_plan(tmp_path, sshd))]) == 0
    out = capsys.readouterr().out
    data = yaml.safe_load(out)
    assert set(data) == {"a", "b"} and data["a"]["HW"] == data["b"]["HW"]
    assert "the 2 SUTs are identical" in out
    assert main(["sut", "fingerprint"]) == 1                  # a usage error (h-cli): exit 1, one line
    err = capsys.readouterr().err
    assert "give --host or --plan" in err and err.count("\n") == 1, err


def test_a_pooled_run_that_measured_nothing_fails_and_append_measures_it_again(tmp_path, sshd, capsys):
    """plan exec's exit 2 for a benchmark without a sample and --append redoing the sessions
    that recorded an error (execute.run, runner.done_sessions) hold for a pool too."""
    bin_dir = tmp_path / "bin"
    path = pool_plan(tmp_path, sshd, sessions=2)
    data = yaml.safe_load(path.read_text())
    data["benchmarks"] = [{"suite": "x", "name": "one", "check": ["test", "-x", f"{bin_dir}/fp-one"],
                           "command": [f"{bin_dir}/fp-one"], "parser": "keyvalue",
                           "resultclasses": [{"name": "x-one", "metric": "value", "improvement": "lower"}]}]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    store = str(tmp_path / "res")
    assert main(["plan", "exec", "--no-progress", "--output", store, str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == f"0 samples, 2 errors written to {store}\n"
    assert err.startswith("Error: no sample of x/one on running: x/one is not installed on the SUT"), err
    bin_dir.mkdir()
    (bin_dir / "fp-one").write_text("#!/bin/sh\necho value=1.5\n")
    (bin_dir / "fp-one").chmod(0o755)
    assert main(["plan", "exec", "--no-progress", "--append", "--output", store, str(path)]) == 0
    assert capsys.readouterr().out == f"4 samples, 0 errors written to {store}\n"
    assert main(["plan", "exec", "--no-progress", "--append", "--output", store, str(path)]) == 0
    assert capsys.readouterr().out == f"0 samples, 0 errors written to {store}\n"
