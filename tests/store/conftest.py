"""Store test fixtures: a real small tmpfs (a full or read-only file system on demand)."""

from __future__ import annotations

import os
import subprocess

import pytest


class Tmpfs:
    """A tmpfs mounted on ``path`` (root only): ``fill()`` leaves it (almost) full,
    ``free()`` removes the filler, ``readonly()`` remounts it read-only."""

    def __init__(self, path, size: str):
        self.path = path
        path.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       check=True, capture_output=True)
        self.filler = path / "filler"

    def fill(self, leave: int = 0) -> None:
        """Write a filler file until ENOSPC, then give back ``leave`` bytes (rounded to pages)."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        if leave:
            size = os.path.getsize(self.filler)
            os.truncate(self.filler, max(0, size - leave))

    def free(self) -> None:
        if self.filler.exists():
            self.filler.unlink()

    def readonly(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True, capture_output=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@pytest.fixture
def tmpfs(tmp_path):
    """tmpfs(size="64k") -> Tmpfs mounted under tmp_path, unmounted afterwards."""
    made = []

    def make(size: str = "64k", name: str = "fs") -> Tmpfs:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        fs = Tmpfs(tmp_path / name, size)
        made.append(fs)
        return fs

    yield make
    for fs in made:
        fs.unmount()


class TcpProxy:
    """A real TCP proxy on 127.0.0.1 to ``target`` (host, port). ``blackhole()`` stops
    forwarding in both directions but keeps every connection open and accepts new ones:
    the peers' kernels still acknowledge what they send, nothing ever answers (a stalled
    middlebox or a stopped proxy, as the fault probe saw)."""

    def __init__(self, target: tuple[str, int]):
        import socket
        import threading
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.forwarding = threading.Event()
        self.forwarding.set()
        self.stopped = threading.Event()
        self.sockets: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            if not self.forwarding.is_set():
                continue                     # accepted, never connected onwards
            server = socket.create_connection(self.target)
            self.sockets.append(server)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src, dst) -> None:
        while not self.stopped.is_set():
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.forwarding.wait()           # blackholed: hold the data for ever
            if self.stopped.is_set():
                return
            try:
                dst.sendall(data)
            except OSError:
                return

    def blackhole(self) -> None:
        self.forwarding.clear()

    def close(self) -> None:
        self.stopped.set()
        self.forwarding.set()
        for s in [self.listener, *self.sockets]:
            try:
                s.close()
            except OSError:
                pass


@pytest.fixture
def tcp_proxy():
    """tcp_proxy(port) -> TcpProxy to 127.0.0.1:port, closed afterwards."""
    made = []

    def make(port: int) -> TcpProxy:
        proxy = TcpProxy(("127.0.0.1", port))
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()
