"""`lab demo --suts K` without booting anything: its `bisect start` is given the pool that
`lab up --count K` wrote (--sut-file), and the option's refusals (each one line, exit 1)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys

import pytest

from fastpath.bisect import context as contexts
from fastpath.bisect.run import step_plan
from fastpath.bisect.start import start
from fastpath.errors import UserError
from fastpath.lab import demo, pool, vm
from fastpath.pool import pool_size
from tests.bisect.conftest import make_baseline_store


def lab_vm(home, port) -> vm.LabVm:
    return vm.LabVm(home=str(home), pid=1, port=port, accel="tcg", kernel="bzImage", initrd="initrd",
                    cmdline="", started="2026-12-02T00:00:00Z", boot_seconds=1.0)


def test_bisect_start_is_given_the_pool_yaml_of_the_vms(tmp_path, sshd):
    """The demo's own `bisect start` options (demo.start_options), run for real against the
    pool.yaml `lab up --count 2` writes, its two VMs standing in as the loopback sshd: the
    context's plan names the pool (no editing), in the shape `bisect auto --suts 2` leases."""
    if sshd.user != "root":
        pytest.skip("the lab logs in as root; the sshd fixture logs in only its own user")
    lab = tmp_path / "lab"
    (lab / "pool").mkdir(parents=True)
    shutil.copy(sshd.keyfile, lab / "id_ed25519")            # what `lab up --count 2` leaves (keys.py,
    shutil.copy(sshd.known_hosts, lab / "pool" / "known_hosts")     # pool.py): one key, one known_hosts
    vms = [lab_vm(lab, sshd.port), lab_vm(lab / "pool" / "sut-1", sshd.port)]
    pool._write_pool_yaml(lab, vms, None)
    store = make_baseline_store(f"sqlite:///{tmp_path}/baselines.db", suts=("fastpath-lab",))
    ctx_path = tmp_path / "ctx.yaml"
    options = demo.start_options(demo.DemoOptions(suts=2), vms[0], lab, store, ctx_path, tmp_path)
    assert options.sut_file == str(lab / "pool.yaml") and options.host is None
    start(dataclasses.replace(options, good_swprofile="v-good", bad_swprofile="v-bad"))  # the store's names
    ctx = contexts.load(ctx_path)
    sut = ctx.plan["sut"]
    assert sut["name"] == "fastpath-lab" and sut["boot_timeout"] == 60 and "power_cycle" not in sut
    assert [(m["name"], m["port"]) for m in sut["pool"]["suts"]] == [("vm0", sshd.port), ("vm1", sshd.port)]
    assert "--home" in sut["pool"]["suts"][1]["power_cycle"]            # each VM power-cycles its own QEMU
    assert pool_size(step_plan(ctx, {"name": "x"}).sut) == 2            # a plan bisect auto --suts 2 accepts
    one = demo.start_options(demo.DemoOptions(), vms[0], lab, store, ctx_path, tmp_path)
    assert (one.sut_file, one.host, one.port) == (None, "127.0.0.1", sshd.port)


@pytest.mark.parametrize("args, message", [(["--suts", "2", "--engine", "git"], "--suts 2 is for the engine"),
                                           (["--ahead", "1", "--engine", "git"], "--ahead 1 is for the engine"),
                                           (["--suts", "0"], "Invalid value for '--suts'")])
def test_suts_refusals_are_one_line(tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "fastpath", "lab", "demo", "--workdir", str(tmp_path / "w"), *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "w").exists()                               # refused before anything was made
    with pytest.raises(UserError, match="^'suts' must be at least 1"):
        demo.run_demo(demo.DemoOptions(workdir=str(tmp_path / "w"), suts=0))
