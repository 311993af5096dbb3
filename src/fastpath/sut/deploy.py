"""Install a swprofile's kernel on the SUT and boot it (kexec, or one-shot GRUB), by polling.

    remote = install(t, swprofile)                    # copy image (+ modules) over SSH
    boot_kexec(t, remote, base_cmdline, words)        # kexec -l ... ; kexec -e (detached)
    new_id = wait_reboot(t, old_boot_id, timeout)     # connection drops, then SSH answers again
    verify(t, swprofile.kernel)                       # uname -r / uname -v are the deployed ones

Every value from the plan travels as a quoted argument of a fixed script (``sh -c SCRIPT
fastpath ARG...``), never pasted into a shell line.
"""

from __future__ import annotations

import logging
import os
import re

from fastpath.errors import KernelBootError, SutTransientError
from fastpath.sut.kimage import file_sha256, image_version
from fastpath.sut.transport import Transport

log = logging.getLogger("fastpath.deploy")

BASE_CMDLINE = "cat /boot/cmdline 2>/dev/null || cat /proc/cmdline"

_INSTALL_MODULES = r"""
set -e
case "$1" in
  *.xz) tar -xJf "$1" -C / ;;
  *.gz|*.tgz) tar -xzf "$1" -C / ;;
  *) tar -xf "$1" -C / ;;
esac
rm -f "$1"
"""

_KEXEC = r"""
set -e
img=$1; cmdline=$2
if [ -f /boot/initrd.img ]; then
  kexec -l "$img" --initrd=/boot/initrd.img --append="$cmdline"
else
  kexec -l "$img" --append="$cmdline"
fi
{ (sleep 1; sync; kexec -e) >/dev/null 2>&1 </dev/null & }
"""

_GRUB = r"""
set -e
img=$1; tag=$2; cmdline=$3
if [ -d /boot/grub ]; then cfg=/boot/grub; else cfg=/boot/grub2; fi
cat > /etc/grub.d/42_fastpath <<EOF
#!/bin/sh
cat <<'ENTRY'
menuentry 'fastpath $tag' --id 'fastpath-$tag' {
  if search --no-floppy --file --set=root /boot/vmlinuz-$tag; then set p=/boot; else search --no-floppy --file --set=root /vmlinuz-$tag; set p=; fi
  linux \$p/vmlinuz-$tag $cmdline
}
ENTRY
EOF
chmod +x /etc/grub.d/42_fastpath
if command -v update-grub >/dev/null; then update-grub; else grub-mkconfig -o $cfg/grub.cfg; fi
if command -v grub-reboot >/dev/null; then grub-reboot "fastpath-$tag"; else grub2-reboot "fastpath-$tag"; fi
{ (sleep 1; reboot) >/dev/null 2>&1 </dev/null & }
"""


def remote_tag(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64] or "kernel"


def install(t: Transport, name: str, kernel: str, modules: str | None = None,
            timeout: float = 600) -> str:
    """Copy the image to /boot/vmlinuz-<tag> (skipped when the same bytes are there) and
    unpack the modules tarball into /. Returns the remote image path."""
    remote = f"/boot/vmlinuz-{remote_tag(name)}"
    have = t.run(["sh", "-c", 'sha256sum "$1" 2>/dev/null | cut -d" " -f1', "fastpath", remote],
                 timeout=timeout).stdout.strip()
    if have != file_sha256(kernel):
        t.copy_to(kernel, remote, timeout=timeout)
    if modules:
        ext = ".tar.xz" if modules.endswith(".xz") else os.path.splitext(modules)[1] or ".tar"
        tmp = f"/tmp/fastpath-modules-{remote_tag(name)}{ext}"
        t.copy_to(modules, tmp, timeout=timeout)
        t.run_checked(["sh", "-c", _INSTALL_MODULES, "fastpath", tmp], timeout=timeout)
    return remote


def base_cmdline(t: Transport) -> str:
    words = t.shell(BASE_CMDLINE, timeout=30).stdout.split()
    return " ".join(w for w in words if not w.startswith(("BOOT_IMAGE=", "initrd=")))


def boot_id(t: Transport, timeout: float = 30) -> str:
    return t.run_checked(["cat", "/proc/sys/kernel/random/boot_id"], timeout=timeout).stdout.strip()


def boot_kexec(t: Transport, remote_image: str, cmdline: str) -> None:
    """Load the kernel with kexec and start it detached (the connection drops ~1 s later)."""
    t.run_checked(["sh", "-c", _KEXEC, "fastpath", remote_image, cmdline], timeout=120)


def boot_grub(t: Transport, remote_image: str, name: str, cmdline: str) -> None:
    """Add a GRUB entry for the image, make it the next boot only, and reboot."""
    t.run_checked(["sh", "-c", _GRUB, "fastpath", remote_image, remote_tag(name), cmdline],
                  timeout=300)


def wait_reboot(t: Transport, old_boot_id: str, timeout: float) -> str:
    """Poll until SSH answers with a boot_id other than old_boot_id; return the new one."""
    def new_boot():
        t.reset()
        try:
            res = t.run(["cat", "/proc/sys/kernel/random/boot_id"],
                        timeout=t.conn.connect_timeout + 5)
        except SutTransientError:
            return None
        now = res.stdout.strip()
        return now if res.ok and now and now != old_boot_id else None
    try:
        return t.poll_until(new_boot, timeout, interval=1.0, what="the SUT to reboot")
    except SutTransientError:
        raise KernelBootError(f"{t.conn.label} did not come back within {timeout:g} s "
                              f"after the reboot (panic or hang?)") from None


def verify(t: Transport, kernel: str) -> tuple[str, str]:
    """Prove the running kernel is the deployed image; returns (uname -r, uname -v)."""
    out = t.run_checked(["sh", "-c", "uname -r; uname -v"], timeout=30).stdout.splitlines()
    release, build = (out + ["", ""])[:2]
    expected = image_version(kernel)
    if expected is not None and not expected.matches(release, build):
        raise KernelBootError(f"{t.conn.label} runs {release} {build}, not the deployed "
                              f"{os.path.basename(kernel)} ({expected.release} {expected.build})")
    return release.strip(), build.strip()
