#!/usr/bin/env bash
# Install the Debian packages fastpath's lab and tests need (idempotent; needs root or sudo).
#   qemu-system-x86 linux-source-6.1 ...  the lab: a real kernel booted under QEMU
#   dropbear-bin busybox-static kexec-tools sysbench rt-tests: what the lab VM's initramfs carries
#   openssh-client openssh-server: the SSH client fastpath uses, and a test sshd
#   grub-common grub2-common grub-pc-bin e2fsprogs: the lab disk that boots through GRUB
#     (binaries only: nothing is installed into this machine's own boot sector)
#   chromium: headless browser the HTML report's test renders its page in (tests/report)
set -euo pipefail
PKGS=(qemu-system-x86 qemu-utils linux-source-6.1 dropbear-bin busybox-static kexec-tools
      openssh-server openssh-sftp-server openssh-client bc bison flex libelf-dev libssl-dev cpio ccache
      sysbench rt-tests xz-utils build-essential git grub-common grub2-common grub-pc-bin e2fsprogs
      chromium)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
