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

from fastpath.errors import KernelBootError, RemoteCommandError, SutTransientError
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
set -ef
case " $(cat /proc/cmdline)" in *" BOOT_IMAGE="*"/fastpath/vmlinuz-"*)
  echo "the SUT runs a kernel fastpath booted, so its own command line is unknown: reboot it" \
       "into its default kernel, or write that command line to /etc/fastpath/base-cmdline" >&2
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

# kexec exits 255 when it refuses an image, which ssh's own failure status would hide: 1.
_KEXEC = r"""
img=$1; cmdline=$2
if [ -f /boot/initrd.img ]; then
  kexec -l "$img" --initrd=/boot/initrd.img --append="$cmdline" || exit 1
else
  kexec -l "$img" --append="$cmdline" || exit 1
fi
{ (sleep 1; sync; kexec -e) >/dev/null 2>&1 </dev/null & }
"""

# /etc/grub.d/42_fastpath: a generator grub-mkconfig runs. Fixed text: it reads the entry
# (image, id, initrd, kernel words) from /etc/fastpath/grub-entry, one item per line, and
# writes it the way 10_linux writes its entries (device access from grub-probe, path relative
# to the file system, every word in GRUB single quotes), so no plan value becomes GRUB script.
GRUB_GENERATOR = r"""#!/bin/sh
# fastpath: a one-shot entry for the kernel under test (data: /etc/fastpath/grub-entry).
# printf, never echo: dash's echo would turn a backslash in a word into GRUB script.
set -e
entry=${FASTPATH_GRUB_ENTRY:-/etc/fastpath/grub-entry}
[ -r "$entry" ] || exit 0
. "${pkgdatadir:-/usr/share/grub}/grub-mkconfig_lib"
{ read -r img; read -r id; read -r initrd; } < "$entry"
[ -f "$img" ] || exit 0
q() { printf "'%s'" "$(printf '%s' "$1" | grub_quote)"; }
args=$(tail -n +4 "$entry" | while IFS= read -r w; do printf ' %s' "$(q "$w")"; done)
dev=$(${grub_probe} --target=device "$img")
access=$(prepare_grub_to_access_device "$dev")
path=$(make_system_path_relative_to_its_root "$img")
printf 'menuentry %s --id %s {\n' "$(q "fastpath $id")" "$(q "$id")"
printf '%s\n' "$access" | sed 's/^/  /'
printf '  linux %s%s\n' "$(q "$path")" "$args"
if [ -n "$initrd" ]; then
  path=$(make_system_path_relative_to_its_root "$initrd")
  printf '  initrd %s\n' "$(q "$path")"
fi
printf '}\n'
"""

# The GRUB configuration file that update-grub/grub*-mkconfig write, where GRUB reads it:
# Debian/Ubuntu's update-grub knows; on Fedora/RHEL /etc/grub2-efi.cfg (UEFI) or
# /etc/grub2.cfg (BIOS) point to it (on RHEL 8 UEFI it is not /boot/grub2/grub.cfg).
_GRUB = r"""
set -e
img=$1; id=$2; gen=$3; shift 3
initrd=; [ -f /boot/initrd.img ] && initrd=/boot/initrd.img
mkdir -p /etc/fastpath
{ printf '%s\n' "$img" "$id" "$initrd"; if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi; } \
  > /etc/fastpath/grub-entry.new
mv /etc/fastpath/grub-entry.new /etc/fastpath/grub-entry
printf '%s' "$gen" > /etc/fastpath/42_fastpath.new
chmod 755 /etc/fastpath/42_fastpath.new
mv /etc/fastpath/42_fastpath.new /etc/grub.d/42_fastpath
if command -v update-grub >/dev/null; then
  cfg=/boot/grub/grub.cfg; update-grub 2>&1
elif command -v grub2-mkconfig >/dev/null; then
  cfg=
  for link in /etc/grub2-efi.cfg /etc/grub2.cfg; do
    if [ -z "$cfg" ] && [ -e "$link" ]; then cfg=$(readlink -f "$link"); fi
  done
  [ -n "$cfg" ] || cfg=/boot/grub2/grub.cfg
  grub2-mkconfig -o "$cfg" 2>&1
else
  cfg=/boot/grub/grub.cfg; grub-mkconfig -o "$cfg" 2>&1
fi
grep -qF -- "--id '$id'" "$cfg" || { echo "no entry $id in $cfg after regenerating it" >&2; exit 1; }
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
        _script(t, f"unpacking the modules tarball {tmp}", _INSTALL_MODULES, tmp, timeout=timeout)
    return remote


def _script(t: Transport, what: str, script: str, *args: str, timeout: float):
    """Run one of the fixed scripts above with ``args`` as its quoted arguments; a failure is
    one line naming ``what`` and the script's last line of output, not the script's text."""
    try:
        return t.run_checked(["sh", "-c", script, "fastpath", *args], timeout=timeout)
    except RemoteCommandError as err:
        raise RemoteCommandError(what, err.status, err.stdout, err.stderr, err.host) from None


def base_cmdline(t: Transport) -> str:
    """The SUT's own kernel command line, which every boot extends with a swprofile's words."""
    words = _script(t, "reading the SUT's own kernel command line", _BASE_CMDLINE, timeout=30).stdout.split()
    return " ".join(w for w in words if not w.startswith(("BOOT_IMAGE=", "initrd=")))


def boot_id(t: Transport, timeout: float = 30) -> str:
    return t.run_checked(["cat", "/proc/sys/kernel/random/boot_id"], timeout=timeout).stdout.strip()


def boot_kexec(t: Transport, remote_image: str, cmdline: str) -> None:
    """Load the kernel with kexec and start it detached (the connection drops ~1 s later)."""
    _script(t, f"kexec -l {remote_image}", _KEXEC, remote_image, cmdline, timeout=120)


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
    blanks itself, so ``dyndbg="file x.c +p"`` reaches the kernel intact (plans allow quotes
    only around a whole word or a whole value, where that is the same to the kernel)."""
    words = [w.replace('"', "") for w in kernel_words(cmdline)]
    _script(t, "the GRUB one-shot boot (42_fastpath, update-grub, grub-reboot)", _GRUB, remote_image,
            f"fastpath-{remote_tag(name)}", GRUB_GENERATOR, *words, timeout=300)


def wait_reboot(t: Transport, old_boot_id: str, timeout: float, what: str = "the SUT to reboot") -> str:
    """Poll until SSH answers with a boot_id other than old_boot_id; return the new one.

    A transient failure (refused port, dropped link, timeout) is waited out, reported through
    ``t.say``; what ssh refuses for good (SshRejectedError: host key, login) ends it at once."""
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
        return t.poll_until(new_boot, timeout, interval=1.0, what=what)
    except SutTransientError:
        last = f"; ssh's last answer: {t.last_failure}" if t.last_failure else ""
        raise KernelBootError(f"{t.conn.label} did not come back within {timeout:g} s "
                              f"after the reboot (panic or hang?){last}") from None


def verify(t: Transport, kernel: str) -> tuple[str, str]:
    """Prove the running kernel is the deployed image; returns (uname -r, uname -v)."""
    out = t.run_checked(["sh", "-c", "uname -r; uname -v"], timeout=30).stdout.splitlines()
    release, build = (out + ["", ""])[:2]
    expected = image_version(kernel)
    if expected is not None and not expected.matches(release, build):
        raise KernelBootError(f"{t.conn.label} runs {release} {build}, not the deployed "
                              f"{os.path.basename(kernel)} ({expected.release} {expected.build})")
    return release.strip(), build.strip()
