"""`bisect start --sut-file FILE`: a plan's sut block (one SUT or a pool) instead of the
connection flags, on two real loopback sshds; the context it writes is what `bisect auto
--suts K` leases from (search.measurers), with no editing."""

from __future__ import annotations

import contextlib
import shutil
import socket
import types

import pytest
import yaml

from fastpath.bisect import context as contexts
from fastpath.bisect import data, search
from fastpath.bisect.run import step_plan
from fastpath.cli.main import main
from fastpath.pool import pool_size
from fastpath.store import open_store
from tests.bisect.conftest import make_baseline_store
from tests.bisect.test_start import start_args

CONNECTION = ("--host", "--user", "--port", "--keyfile", "--known-hosts")


NO_SSHD = types.SimpleNamespace(host=None, user=None, port=None, keyfile=None, known_hosts=None)


def pool_args(store, ctx, sut_file, **over):
    """bisect start's arguments (test_start.start_args) with --sut-file instead of the
    connection flags."""
    return start_args(NO_SSHD, store, ctx, **{**{f: None for f in CONNECTION}, "--sut-file": str(sut_file),
                                              **over})


def pool_file(tmp_path, sshd, sshd2, name="lab", **sut_extra):
    """A static pool of the two sshds: member a with the shared keys of sut.connection, member
    b with its own, given relative to the file (as a user writes them)."""
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    shutil.copy(sshd2.keyfile, keys / "id_b")
    shutil.copy(sshd2.known_hosts, keys / "known_hosts_b")
    sut = {"name": name,
           "connection": {"method": "SSH", "params": {"user": sshd.user, "keyfile": sshd.keyfile,
                                                      "known_hosts": sshd.known_hosts}},
           "pool": {"suts": [{"name": "a", "host": sshd.host, "port": sshd.port},
                             {"name": "b", "host": sshd2.host, "port": sshd2.port,
                              "keyfile": "keys/id_b", "known_hosts": "keys/known_hosts_b"}]},
           **sut_extra}
    path = tmp_path / "pool.yaml"
    path.write_text(yaml.safe_dump({"sut": sut}, sort_keys=False))
    return path


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_pool_file_goes_into_the_context_and_bisect_auto_leases_its_suts(tmp_path, sshd, sshd2, baseline_store):
    ctx_file = tmp_path / "ctx.yaml"
    assert main(pool_args(baseline_store, ctx_file, pool_file(tmp_path, sshd, sshd2),
                          **{"--boot-timeout": "30"})) == 0
    ctx = contexts.load(ctx_file)
    sut = ctx.plan["sut"]
    assert ctx.sut == "lab" and sut["boot_timeout"] == 30
    members = sut["pool"]["suts"]
    assert [(m["name"], m["port"]) for m in members] == [("a", sshd.port), ("b", sshd2.port)]
    assert members[1]["keyfile"] == str(tmp_path / "keys" / "id_b")        # absolute: read from the tree
    assert members[1]["known_hosts"] == str(tmp_path / "keys" / "known_hosts_b")
    assert pool_size(step_plan(ctx, {"name": "x"}).sut) == 2
    with open_store(ctx.output_resultstore) as store:
        assert [len(v) for v in (data.session_values(store, data.context_suts(ctx, store), s, ctx.benchmark,
                                                     ctx.resultclass) for s in ("v-good", "v-bad"))] == [8, 8]
        said = []
        with contextlib.ExitStack() as stack:        # what `bisect auto --suts 2` does first
            ms = search.measurers(ctx, store, False, 2, said.append, stack)
            assert [m.sut.name for m in ms] == ["lab@a", "lab@b"]
            assert [m.sut.connection.port for m in ms] == [sshd.port, sshd2.port]
            assert ms[1].sut.connection.keyfile == str(tmp_path / "keys" / "id_b")
        assert not [s for s in said if "does not answer" in s], said      # both answered, identical


def test_baselines_recorded_on_the_pool_members_are_read_and_copied(tmp_path, sshd, sshd2):
    """A pooled `plan exec` stores its sessions under <sut>@<member>: start reads them all."""
    url = make_baseline_store(f"sqlite:///{tmp_path}/o.db", suts=("lab@a", "lab@b"))
    assert main(pool_args(url, tmp_path / "ctx.yaml", pool_file(tmp_path, sshd, sshd2))) == 0
    ctx = contexts.load(tmp_path / "ctx.yaml")
    with open_store(ctx.output_resultstore, readonly=True) as out:
        assert sorted(s.id for s in out.suts()) == ["lab@a", "lab@b"]
        assert out.count_samples() == 2 * 8 * 3
    assert ctx.plan["defaults"]["benchmark"]["sessions"] == 8


def test_sut_names_the_baselines_and_the_pool_takes_that_name(tmp_path, sshd, sshd2, capsys):
    url = make_baseline_store(f"sqlite:///{tmp_path}/o.db", suts=("altra",))
    path = pool_file(tmp_path, sshd, sshd2, name="fastpath-lab")
    assert main(pool_args(url, tmp_path / "ctx.yaml", path, **{"--sut": "altra"})) == 0
    assert contexts.load(tmp_path / "ctx.yaml").sut == "altra"
    capsys.readouterr()
    assert main(pool_args(url, tmp_path / "ctx2.yaml", path, **{"--sut": None})) == 1     # the file's name
    assert "--sut 'fastpath-lab': no such SUT (nor a SUT 'fastpath-lab@<member>' of its pool) in sqlite:///" \
        in one_line(capsys)


def test_a_single_sut_file_is_the_seed_connection(tmp_path, sshd, baseline_store):
    path = tmp_path / "sut.yaml"
    path.write_text(yaml.safe_dump({"sut": {"name": "lab", "power_cycle": "pdu-ctl 3 cycle",
                                            "connection": {"params": sshd.params()}}}))
    assert main(pool_args(baseline_store, tmp_path / "ctx.yaml", path)) == 0
    sut = contexts.load(tmp_path / "ctx.yaml").plan["sut"]
    assert sut["connection"]["params"]["port"] == sshd.port and sut["power_cycle"] == "pdu-ctl 3 cycle"
    assert "pool" not in sut


@pytest.mark.parametrize("change, key, message", [
    (lambda s: s["pool"]["suts"][1].pop("host"), "sut.pool.suts[1]", "missing required key 'host'"),
    (lambda s: s["pool"]["suts"][1].update(name="a"), "sut.pool.suts[1].name", "duplicate SUT name 'a'"),
    (lambda s: s["pool"].update(count=3), "sut.pool.count", "the pool lists only 2 SUTs"),
    (lambda s: s["pool"]["suts"][0].update(keyfile="nope"), "sut.pool.suts[0].keyfile", "file not found: nope"),
    (lambda s: s.update(colour="red"), "sut.colour", "unknown key"),
])
def test_a_bad_pool_file_is_one_line_naming_file_and_key(tmp_path, sshd, sshd2, baseline_store, capsys,
                                                          change, key, message):
    path = pool_file(tmp_path, sshd, sshd2)
    doc = yaml.safe_load(path.read_text())
    change(doc["sut"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert main(pool_args(baseline_store, tmp_path / "ctx.yaml", path)) == 1
    err = one_line(capsys)
    assert err.startswith(f"Error: {path}:") and f"key '{key}'" in err and message in err, err
    assert not (tmp_path / "ctx.yaml").exists()


@pytest.mark.parametrize("text, message", [("", "the file is empty"), ("suts: []\n", "key 'suts': unknown key"),
                                           ("sut: [\n", "malformed YAML")])
def test_a_file_that_is_no_sut_block_is_one_line(tmp_path, baseline_store, capsys, text, message):
    path = tmp_path / "sut.yaml"
    path.write_text(text)
    assert main(pool_args(baseline_store, tmp_path / "ctx.yaml", path)) == 1
    err = one_line(capsys)
    assert str(path) in err and message in err, err
    assert main(pool_args(baseline_store, tmp_path / "ctx.yaml", tmp_path / "none.yaml")) == 1
    assert f"{tmp_path / 'none.yaml'}: file not found" in one_line(capsys)


def test_sut_file_and_connection_flags_exclude_each_other(tmp_path, sshd, sshd2, baseline_store, capsys):
    path = pool_file(tmp_path, sshd, sshd2)
    assert main(pool_args(baseline_store, tmp_path / "ctx.yaml", path,
                          **{"--host": sshd.host, "--port": str(sshd.port)})) == 1
    err = one_line(capsys)
    assert f"--sut-file {path}: give either --sut-file or the connection flags, not both (--host, --port given)" \
        in err, err
    assert main(pool_args(baseline_store, tmp_path / "ctx.yaml", path, **{"--sut-file": None})) == 1
    assert "give --host HOST (one SUT" in one_line(capsys)
    assert main(start_args(sshd, baseline_store, tmp_path / "ctx.yaml", **{"--sut": None})) == 1
    assert "--sut: required with --host" in one_line(capsys)
    assert not (tmp_path / "ctx.yaml").exists()


def test_every_sut_of_the_pool_must_be_the_baselines_machine(tmp_path, sshd, sshd2, capsys):
    url = make_baseline_store(f"sqlite:///{tmp_path}/o.db", sut_fields={"cpu_count": 999})
    path = pool_file(tmp_path, sshd, sshd2)
    assert main(pool_args(url, tmp_path / "ctx.yaml", path)) == 1
    err = one_line(capsys)
    assert f"--sut-file {path} (SUT a of the pool): not the machine the baselines of SUT 'lab' in " in err, err
    assert "cpu_count 999 recorded" in err
    assert not (tmp_path / "ctx.yaml").exists()


def test_a_sut_of_the_pool_that_does_not_answer_is_named(tmp_path, sshd, sshd2, baseline_store, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]              # nothing listens there once closed
    path = pool_file(tmp_path, sshd, sshd2)
    doc = yaml.safe_load(path.read_text())
    doc["sut"]["pool"]["suts"][1]["port"] = dead
    path.write_text(yaml.safe_dump(doc))
    assert main(pool_args(baseline_store, tmp_path / "ctx.yaml", path)) != 0
    err = one_line(capsys)
    assert err.startswith("Error: SUT b of the pool: ") and f":{dead}" in err, err
    assert f"bisect start: check each SUT of the pool (sut.pool and sut.connection) in --sut-file {path}" in err
    assert not (tmp_path / "ctx.yaml").exists()


def test_bisect_auto_checks_its_leases_against_the_baselines_too(tmp_path, sshd, sshd2, baseline_store):
    """A labgrid coordinator may lease `bisect auto` other places than it gave `bisect start`:
    search.measurers checks the leased SUTs against the baselines' SUT row again (here the
    output store's row says another machine, as other places would)."""
    from fastpath.errors import UserError

    ctx_file = tmp_path / "ctx.yaml"
    assert main(pool_args(baseline_store, ctx_file, pool_file(tmp_path, sshd, sshd2))) == 0
    ctx = contexts.load(ctx_file)
    ctx.output_resultstore = make_baseline_store(f"sqlite:///{tmp_path}/other.db", sut_fields={"cpu_count": 999})
    with open_store(ctx.output_resultstore) as store, contextlib.ExitStack() as stack:
        with pytest.raises(UserError, match=r"the pool of SUT 'lab' \(SUT a of the pool\): not the machine the "
                                            r"baselines of SUT 'lab' in sqlite:///.*cpu_count 999 recorded"):
            search.measurers(ctx, store, False, 2, lambda s: None, stack)
