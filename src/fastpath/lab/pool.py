"""K lab VMs for a pool of SUTs, optionally exported through a local labgrid.

    vms = up_pool(2, labgrid=True)   # VM 0 in the lab home, VM i in <home>/pool/sut-<i>
    status_pool(); down_pool()        # every VM and the labgrid processes

All VMs boot the same kernel with the same keys (the lab home's client key and VM host key),
so one keyfile and one known_hosts (``<home>/pool/known_hosts``, one line per port) reach
them all. ``<home>/pool.yaml`` holds the plan's ``sut`` block: a static pool of the K VMs,
or with ``labgrid`` the coordinator and tags of the K places.
"""

from __future__ import annotations

import os
import pathlib
import shutil

import yaml

from fastpath.errors import UserError
from fastpath.lab import grid, vm
from fastpath.lab.home import lab_home
from fastpath.lab.keys import ensure_keys

KEY_FILES = ("id_ed25519", "id_ed25519.pub", "vm/dropbear_ed25519_host_key")


def member_homes(home: pathlib.Path) -> list[pathlib.Path]:
    """Lab homes of VMs 1.. that a pool started (VM 0 is the lab home itself)."""
    root = home / "pool"
    found = [p for p in root.glob("sut-*") if p.name[4:].isdigit()] if root.exists() else []
    return sorted(found, key=lambda p: int(p.name[4:]))


def up_pool(count: int, kernel=None, *, home=None, labgrid: bool = False, **up_args) -> dict:
    """Boot ``count`` lab VMs (and a labgrid for them); return the status mapping."""
    if count < 1:
        raise UserError("{count} must be at least 1", params=("count",))
    home = lab_home(home)
    if vm.is_running(home) or any(vm.is_running(h) for h in member_homes(home)):
        raise UserError(f"lab VMs already running (home {home}); run `fastpath lab down` first")
    keys = ensure_keys(home)
    first = vm.up(kernel, home=home, **up_args)
    vms = [first]
    try:
        for i in range(1, count):
            sub = home / "pool" / f"sut-{i}"
            for name in KEY_FILES:
                (sub / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(home / name, sub / name)
            vms.append(vm.up(first.kernel, home=sub, **up_args))
        known = home / "pool" / "known_hosts"
        known.parent.mkdir(parents=True, exist_ok=True)
        known.write_text("".join(f"[127.0.0.1]:{v.port} {keys.host_pub}\n" for v in vms))
        lab_grid = grid.start([v.home for v in vms], [v.port for v in vms], home / "grid") \
            if labgrid else None
    except BaseException:
        for v in vms:
            vm.down(v.home)
        raise
    _write_pool_yaml(home, vms, lab_grid)
    return status_pool(home)


def pool_sut(home: pathlib.Path, vms, lab_grid=None) -> dict:
    """The plan's ``sut`` block for these VMs (static list, or the labgrid places)."""
    params = {"user": "root", "keyfile": str(home / "id_ed25519"),
              "known_hosts": str(home / "pool" / "known_hosts")}
    sut = {"name": "fastpath-lab", "connection": {"method": "SSH", "params": params}}
    if lab_grid is not None:
        sut["pool"] = lab_grid.pool(len(vms))
    else:
        sut["pool"] = {"suts": [
            {"name": f"vm{i}", "host": "127.0.0.1", "port": v.port,
             "power_cycle": v.sut()["power_cycle"]} for i, v in enumerate(vms)]}
    return sut


def _write_pool_yaml(home: pathlib.Path, vms, lab_grid) -> None:
    (home / "pool.yaml").write_text(yaml.safe_dump({"sut": pool_sut(home, vms, lab_grid)},
                                                   sort_keys=False))


def status_pool(home=None) -> dict:
    home = lab_home(home)
    out = {"vms": [vm.status(h) for h in [home, *member_homes(home)]]}
    g = grid.load(home / "grid")
    if g is not None:
        alive = grid.running(home / "grid")
        out["labgrid"] = {"coordinator": g.coordinator, "places": g.places,
                          "processes": {n: ("running, pid %d" % alive[n]) if n in alive else "stopped"
                                        for n in g.pids}}
    if (home / "pool.yaml").exists():
        out["pool_yaml"] = str(home / "pool.yaml")
    return out


def down_pool(home=None) -> list[str]:
    """Stop the labgrid processes and every lab VM; return what was stopped."""
    home = lab_home(home)
    stopped = []
    if grid.stop(home / "grid"):
        stopped.append("labgrid")
    for h in [home, *member_homes(home)]:
        if vm.down(h):
            stopped.append(f"VM {os.path.relpath(h, home) if h != home else 'vm0'}")
    return stopped
