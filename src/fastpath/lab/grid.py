"""A local labgrid lab: a real labgrid-coordinator and labgrid-exporter exporting lab VMs.

    g = start(homes, ports, grid_dir)   # coordinator, power switch, exporter; K tagged places
    g.coordinator                         # "127.0.0.1:PORT" for a plan's sut.pool.labgrid
    running(grid_dir); stop(grid_dir)     # what `lab status` and `lab down` use

Lab VM i is the place ``fastpath-lab-<i>`` (tag ``board=fastpath_lab``) whose resources are
a NetworkService (127.0.0.1, root, its forwarded SSH port) and a NetworkPowerPort (model
simplerest) on the lab power switch (fastpath.lab.powerswitch), which stops and restarts that
VM's QEMU. The processes outlive the command that started them; their pids and logs are in
``grid_dir`` (state.json, *.log), and the coordinator keeps its places there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import yaml

from fastpath.errors import UserError
from fastpath.lab.home import log

EXPORTER = "fastpath-lab"
TAGS = {"board": "fastpath_lab"}
PROCESSES = ("coordinator", "powerswitch", "exporter")


def place_name(index: int) -> str:
    return f"fastpath-lab-{index}"


@dataclasses.dataclass
class Grid:
    dir: str
    coordinator: str                    # HOST:PORT
    power_port: int
    places: list[str]
    pids: dict[str, int]

    def pool(self, count: int) -> dict:
        """The ``sut.pool`` mapping of a plan that uses these places."""
        return {"labgrid": {"coordinator": self.coordinator, "tags": dict(TAGS), "count": count}}


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(name: str, argv: list[str], grid_dir: pathlib.Path) -> int:
    logf = open(grid_dir / f"{name}.log", "ab")
    proc = subprocess.Popen(argv, cwd=grid_dir, stdin=subprocess.DEVNULL, stdout=logf,
                            stderr=subprocess.STDOUT, start_new_session=True)
    logf.close()
    return proc.pid


def _ours(pid: int, grid_dir: pathlib.Path) -> bool:
    """True if ``pid`` is alive and runs in ``grid_dir`` (so a reused pid is never killed)."""
    try:
        return pathlib.Path(f"/proc/{pid}/cwd").resolve() == grid_dir.resolve() and \
            not pathlib.Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")
    except OSError:
        return False


def exporter_config(ports: list[int], power_port: int) -> dict:
    """labgrid-exporter's resource file: one group per lab VM."""
    url = f"http://127.0.0.1:{power_port}/power/{{index}}/{{value}}"
    return {place_name(i): {"NetworkService": {"address": "127.0.0.1", "username": "root", "port": port},
                            "NetworkPowerPort": {"model": "simplerest", "host": url, "index": i}}
            for i, port in enumerate(ports)}


def start(homes: list[str], ports: list[int], grid_dir: str | os.PathLike,
          timeout: float = 60.0) -> Grid:
    grid_dir = pathlib.Path(grid_dir)
    grid_dir.mkdir(parents=True, exist_ok=True)
    if running(grid_dir):
        raise UserError(f"a lab labgrid is already running in {grid_dir}; run `fastpath lab down`")
    coord_port, power_port = _free_port(), _free_port()
    coordinator = f"127.0.0.1:{coord_port}"
    (grid_dir / "exporter.yaml").write_text(yaml.safe_dump(exporter_config(ports, power_port),
                                                           sort_keys=False))
    py = sys.executable
    pids = {}
    grid = Grid(str(grid_dir), coordinator, power_port, [place_name(i) for i in range(len(ports))], pids)
    try:
        pids["coordinator"] = _spawn("coordinator", [py, "-m", "labgrid.remote.coordinator",
                                                     "-l", coordinator], grid_dir)
        pids["powerswitch"] = _spawn("powerswitch", [py, "-m", "fastpath.lab.powerswitch", "--port",
                                                     str(power_port), *map(str, homes)], grid_dir)
        _save(grid)
        _wait_port(coord_port, timeout, grid_dir / "coordinator.log")
        pids["exporter"] = _spawn("exporter", [py, "-m", "labgrid.remote.exporter", "-c", coordinator,
                                               "-n", EXPORTER, "--hostname", "127.0.0.1",
                                               "exporter.yaml"], grid_dir)
        _save(grid)
        asyncio.run(_make_places(coordinator, len(ports), timeout))
    except BaseException:
        stop(grid_dir)
        raise
    log.info("labgrid lab: coordinator %s, %d places", coordinator, len(ports))
    return grid


def _wait_port(port: int, timeout: float, logfile: pathlib.Path) -> None:
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise UserError(f"labgrid-coordinator did not listen on 127.0.0.1:{port} in {timeout:.0f} s "
                    f"(see {logfile})")


async def _make_places(coordinator: str, count: int, timeout: float) -> None:
    """labgrid-client create / add-match / set-tags for each VM, once the exporter is seen."""
    from labgrid.remote.client import ClientSession
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

    session = ClientSession(coordinator, asyncio.get_running_loop())
    await session.start()
    try:
        deadline = time.monotonic() + timeout
        while len(session.resources.get(EXPORTER, {})) < count:
            if time.monotonic() > deadline:
                raise UserError(f"labgrid-exporter did not register {count} lab VMs with {coordinator} "
                                f"in {timeout:.0f} s")
            await asyncio.sleep(0.2)
        for i in range(count):
            name = place_name(i)
            if name not in session.places:
                await session.stub.AddPlace(pb2.AddPlaceRequest(name=name))
                await session.stub.AddPlaceMatch(pb2.AddPlaceMatchRequest(
                    placename=name, pattern=f"{EXPORTER}/{name}/*"))
            await session.stub.SetPlaceTags(pb2.SetPlaceTagsRequest(placename=name, tags=TAGS))
        await session.sync_with_coordinator()
    finally:
        await session.stop()
        await session.close()


def _save(grid: Grid) -> None:
    pathlib.Path(grid.dir, "state.json").write_text(json.dumps(dataclasses.asdict(grid), indent=1) + "\n")


def load(grid_dir: str | os.PathLike) -> Grid | None:
    path = pathlib.Path(grid_dir, "state.json")
    return Grid(**json.loads(path.read_text())) if path.exists() else None


def running(grid_dir: str | os.PathLike) -> dict[str, int]:
    """{process: pid} of this grid's processes that are alive."""
    grid = load(grid_dir)
    if grid is None:
        return {}
    return {name: pid for name, pid in grid.pids.items() if _ours(pid, pathlib.Path(grid_dir))}


def stop(grid_dir: str | os.PathLike, grace: float = 10.0) -> bool:
    """Stop the exporter, the power switch and the coordinator; True if any was running."""
    alive = running(grid_dir)
    for name in reversed(PROCESSES):
        pid = alive.get(name)
        if pid is None:
            continue
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _ours(pid, pathlib.Path(grid_dir)):
                time.sleep(0.05)
            if not _ours(pid, pathlib.Path(grid_dir)):
                break
    return bool(alive)
