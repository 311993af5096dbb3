"""The lab's SSH keys: a client key pair (OpenSSH) and the VM's host key (dropbear), pinned.

Host key checking stays on: the VM's host key is generated here, baked into the initramfs,
and written to ``<lab home>/known_hosts`` as ``[127.0.0.1]:PORT ssh-ed25519 ...``.
"""

from __future__ import annotations

import dataclasses
import pathlib

from fastpath.lab.home import run


@dataclasses.dataclass(frozen=True)
class LabKeys:
    client_key: pathlib.Path        # private key the tool logs in with (keyfile)
    client_pub: str                 # its public line (authorized_keys in the VM)
    host_key: pathlib.Path          # dropbear-format private host key (goes into the VM)
    host_pub: str                   # "ssh-ed25519 AAAA..." of the host key
    known_hosts: pathlib.Path


def ensure_keys(home: pathlib.Path) -> LabKeys:
    """Create the keys once per lab home; later calls reuse them."""
    client = home / "id_ed25519"
    if not client.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fastpath-lab", "-f", str(client)],
            what="ssh-keygen")
    host = home / "vm" / "dropbear_ed25519_host_key"
    host.parent.mkdir(parents=True, exist_ok=True)
    if not host.exists():
        run(["dropbearkey", "-t", "ed25519", "-f", str(host)], what="dropbearkey")
    out = run(["dropbearkey", "-y", "-f", str(host)], what="dropbearkey -y")
    host_pub = next(" ".join(ln.split()[:2]) for ln in out.splitlines() if ln.startswith("ssh-"))
    client_pub = (home / "id_ed25519.pub").read_text().strip()
    return LabKeys(client, client_pub, host, host_pub, home / "known_hosts")


def pin_host_key(keys: LabKeys, port: int) -> None:
    """Write known_hosts so that only the VM's key is accepted at 127.0.0.1:port."""
    keys.known_hosts.write_text(f"[127.0.0.1]:{port} {keys.host_pub}\n")
