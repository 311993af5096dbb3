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

# The SUT's own kernel command line. /boot/cmdline when the SUT provides one (the lab VM does);
# else the one recorded in /etc/fastpath/base-cmdline the first time fastpath boots a kernel
# there, while the SUT still runs its own kernel. Never the running kernel's /proc/cmdline once
# fastpath has booted something: that holds the last swprofile's words, which would pile up in
# every later boot (each `bisect run` is a new process that finds the previous step's kernel).
_BASE_CMDLINE = r"""
if [ -s /boot/cmdline ]; then exec cat /boot/cmdline; fi
if [ -s /etc/fastpath/base-cmdline ]; then exec cat /etc/fastpath/base-cmdline; fi
set -e
case " $(cat /proc/cmdline)" in *" BOOT_IMAGE=/boot/fastpath/"*|*" BOOT_IMAGE=/fastpath/"*)
  echo "the SUT runs a kernel fastpath booted, so its own command line is unknown;" \
       "reboot it into its default kernel, or write it to /etc/fastpath/base-cmdline" >&2
  exit 1 ;;
esac
mkdir -p /etc/fastpath
for w in $(cat /proc/cmdline); do
  case "$w" in BOOT_IMAGE=*|initrd=*) ;; *) printf '%s ' "$w" ;; esac
done > /etc/fastpath/base-cmdline.new
mv /etc/fastpath/base-cmdline.new /etc/fastpath/base-cmdline
cat /etc/fastpath/base-cmdline
"""

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

# /etc/grub.d/42_fastpath: a generator grub-mkconfig runs. Fixed text: it reads the entry
# (image, id, initrd, kernel words) from /etc/fastpath/grub-entry, one item per line, and
# writes it the way 10_linux writes its entries (device access from grub-probe, path relative
# to the file system, every word in GRUB single quotes), so no plan value becomes GRUB script.
GRUB_GENERATOR = r"""#!/bin/sh
# fastpath: a one-shot entry for the kernel under test (data: /etc/fastpath/grub-entry).
set -e
entry=/etc/fastpath/grub-entry
[ -r "$entry" ] || exit 0
. "${pkgdatadir:-/usr/share/grub}/grub-mkconfig_lib"
{ read -r img; read -r id; read -r initrd; } < "$entry"
[ -f "$img" ] || exit 0
q() { printf "'%s'" "$(printf '%s' "$1" | grub_quote)"; }
args=$(tail -n +4 "$entry" | while IFS= read -r w; do printf ' %s' "$(q "$w")"; done)
echo "menuentry $(q "fastpath $id") --id $(q "$id") {"
prepare_grub_to_access_device "$(${grub_probe} --target=device "$img")" | sed 's/^/  /'
echo "  linux $(q "$(make_system_path_relative_to_its_root "$img")")$args"
if [ -n "$initrd" ]; then
  echo "  initrd $(q "$(make_system_path_relative_to_its_root "$initrd")")"
fi
echo "}"
"""

_GRUB = r"""
set -e
img=$1; id=$2; gen=$3; shift 3
initrd=; [ -f /boot/initrd.img ] && initrd=/boot/initrd.img
mkdir -p /etc/fastpath
{ printf '%s\n' "$img" "$id" "$initrd"; if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi; } \
  > /etc/fastpath/grub-entry.new
mv /etc/fastpath/grub-entry.new /etc/fastpath/grub-entry
printf '%s' "$gen" > /etc/grub.d/42_fastpath.new
chmod 755 /etc/grub.d/42_fastpath.new
mv /etc/grub.d/42_fastpath.new /etc/grub.d/42_fastpath
if command -v update-grub >/dev/null; then update-grub
elif command -v grub2-mkconfig >/dev/null; then grub2-mkconfig -o /boot/grub2/grub.cfg
else grub-mkconfig -o /boot/grub/grub.cfg; fi 2>&1
grep -q -- "--id 'fastpath-" /boot/grub*/grub.cfg || { echo "the fastpath entry is not in grub.cfg" >&2; exit 1; }
if command -v grub-reboot >/dev/null; then grub-reboot "$id"; else grub2-reboot "$id"; fi
{ (sleep 1; sync; reboot) >/dev/null 2>&1 </dev/null & }
"""

FASTPATH_BOOT_DIR = "/boot/fastpath"      # out of the globs distribution kernel scripts scan


def remote_tag(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64] or "kernel"


def install(t: Transport, name: str, kernel: str, modules: str | None = None,
            timeout: float = 600) -> str:
    """Copy the image to /boot/fastpath/vmlinuz-<tag> (skipped when the same bytes are there)
    and unpack the modules tarball into /. Returns the remote image path.

    Not /boot/vmlinuz-*: update-grub's 10_linux lists those and may make the newest-looking
    one the default entry, which a kernel under test must never become."""
    remote = f"{FASTPATH_BOOT_DIR}/vmlinuz-{remote_tag(name)}"
    have = t.run(["sh", "-c", 'mkdir -p "$1"; sha256sum "$2" 2>/dev/null | cut -d" " -f1', "fastpath",
                  FASTPATH_BOOT_DIR, remote], timeout=timeout).stdout.strip()
    if have != file_sha256(kernel):
        t.copy_to(kernel, remote, timeout=timeout)
    if modules:
        ext = ".tar.xz" if modules.endswith(".xz") else os.path.splitext(modules)[1] or ".tar"
        tmp = f"/tmp/fastpath-modules-{remote_tag(name)}{ext}"
        t.copy_to(modules, tmp, timeout=timeout)
        t.run_checked(["sh", "-c", _INSTALL_MODULES, "fastpath", tmp], timeout=timeout)
    return remote


def base_cmdline(t: Transport) -> str:
    """The SUT's own kernel command line, which every boot extends with a swprofile's words."""
    words = t.run_checked(["sh", "-c", _BASE_CMDLINE], timeout=30).stdout.split()
    return " ".join(w for w in words if not w.startswith(("BOOT_IMAGE=", "initrd=")))


def boot_id(t: Transport, timeout: float = 30) -> str:
    return t.run_checked(["cat", "/proc/sys/kernel/random/boot_id"], timeout=timeout).stdout.strip()


def boot_kexec(t: Transport, remote_image: str, cmdline: str) -> None:
    """Load the kernel with kexec and start it detached (the connection drops ~1 s later)."""
    t.run_checked(["sh", "-c", _KEXEC, "fastpath", remote_image, cmdline], timeout=120)


def kernel_words(cmdline: str) -> list[str]:
    """Split a kernel command line as the kernel does: at blanks outside double quotes."""
    words, word, quoted, started = [], [], False, False
    for ch in cmdline:
        if ch.isspace() and not quoted:
            if started:
                words.append("".join(word))
            word, started = [], False
            continue
        if ch == '"':
            quoted = not quoted
        word.append(ch)
        started = True
    if started:
        words.append("".join(word))
    return words


def boot_grub(t: Transport, remote_image: str, name: str, cmdline: str) -> None:
    """Add a GRUB entry for the image (``/etc/grub.d/42_fastpath``, ``update-grub``), make it
    the next boot only (``grub-reboot``), and reboot. The default entry stays what it was, so
    a power-cycle after a failed boot comes back to the SUT's own kernel.

    Each kernel word goes to GRUB without its double quotes: GRUB quotes a word that holds
    blanks itself, so ``dyndbg="file x.c +p"`` reaches the kernel intact."""
    words = [w.replace('"', "") for w in kernel_words(cmdline)]
    t.run_checked(["sh", "-c", _GRUB, "fastpath", remote_image, f"fastpath-{remote_tag(name)}",
                   GRUB_GENERATOR, *words], timeout=300)


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
