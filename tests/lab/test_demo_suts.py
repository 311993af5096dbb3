"""`lab demo --suts K` without booting anything: the context's plan is made to name the pool
that `lab up --count K` wrote, and the option's refusals (each one line, exit 1)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fastpath.bisect import context as contexts
from fastpath.bisect.run import step_plan
from fastpath.errors import UserError
from fastpath.lab import demo, pool, vm
from fastpath.pool import pool_size
from tests.report import builder


def lab_vm(home, port) -> vm.LabVm:
    return vm.LabVm(home=str(home), pid=1, port=port, accel="tcg", kernel="bzImage", initrd="initrd",
                    cmdline="", started="2026-12-02T00:00:00Z", boot_seconds=1.0)


def test_the_context_names_the_pool_of_the_vms(tmp_path):
    shas = builder.make_tree(tmp_path / "linux")
    ctx_path = builder.context(tmp_path, shas, f"sqlite:///{tmp_path}/out.db", [])
    ctx = contexts.load(ctx_path)
    ctx.plan["sut"] = {"name": "fastpath-lab", "boot_timeout": 60, "power_cycle": "fastpath lab power-cycle",
                       "connection": {"method": "SSH", "params": {"host": "127.0.0.1", "port": 40001}}}
    contexts.save(ctx, ctx_path)
    lab = tmp_path / "lab"
    (lab / "pool").mkdir(parents=True)
    for name in ("id_ed25519", "pool/known_hosts"):       # what `lab up --count 2` leaves (keys.py, pool.py)
        (lab / name).write_text("")
    pool._write_pool_yaml(lab, [lab_vm(lab, 40001), lab_vm(lab / "pool" / "sut-1", 40002)], None)
    demo._pool_context(ctx_path, lab)
    sut = contexts.load(ctx_path).plan["sut"]
    assert sut["name"] == "fastpath-lab" and sut["boot_timeout"] == 60 and "power_cycle" not in sut
    assert [(m["name"], m["port"]) for m in sut["pool"]["suts"]] == [("vm0", 40001), ("vm1", 40002)]
    assert "--home" in sut["pool"]["suts"][1]["power_cycle"]            # each VM power-cycles its own QEMU
    assert pool_size(step_plan(contexts.load(ctx_path), {"name": "x"}).sut) == 2   # a plan bisect auto accepts


@pytest.mark.parametrize("args, message", [(["--suts", "2", "--engine", "git"], "--suts 2 is for the engine"),
                                           (["--suts", "0"], "Invalid value for '--suts'")])
def test_suts_refusals_are_one_line(tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "fastpath", "lab", "demo", "--workdir", str(tmp_path / "w"), *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "w").exists()                               # refused before anything was made
    with pytest.raises(UserError, match="--suts must be at least 1"):
        demo.run_demo(demo.DemoOptions(workdir=str(tmp_path / "w"), suts=0))
