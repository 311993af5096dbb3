"""Deploy pieces that need no SUT: the remote scripts parse, kernel images name their version."""

from __future__ import annotations

import gzip
import os
import pathlib
import shutil
import subprocess

import pytest

from fastpath.sut import deploy
from fastpath.sut.kimage import image_version


@pytest.mark.parametrize("script", [deploy._KEXEC, deploy._GRUB, deploy.GRUB_GENERATOR,
                                    deploy._INSTALL_MODULES, deploy._BASE_CMDLINE])
def test_remote_scripts_are_valid_sh(script):
    for shell in ("sh", "busybox"):
        argv = [shell, "-n", "-c", script] if shell == "sh" else ["busybox", "sh", "-n", "-c", script]
        assert subprocess.run(argv, capture_output=True).returncode == 0


def test_kernel_words_split_like_the_kernel():
    assert deploy.kernel_words('  root=/dev/vda1 ro\tdyndbg="file x.c +p"  a"b c"d ') == [
        "root=/dev/vda1", "ro", 'dyndbg="file x.c +p"', 'a"b c"d']
    assert deploy.kernel_words("") == [] and deploy.kernel_words("x") == ["x"]


def test_remote_tag_keeps_paths_safe():
    assert deploy.remote_tag("bisect-a1b2c3d4e5f6") == "bisect-a1b2c3d4e5f6"
    assert deploy.remote_tag("../../etc/x y;z") == ".._.._etc_x_y_z"


def test_version_of_a_compressed_arm64_style_image(tmp_path):
    banner = (b"\0\0Linux version 6.9.0-rc1 (kb@host) (gcc 13.2, GNU ld 2.41) "
              b"#1 SMP PREEMPT Tue Mar 12 10:00:00 UTC 2024\n\0")
    img = tmp_path / "Image.gz"
    img.write_bytes(gzip.compress(b"\x00" * 4096 + banner + b"\x00" * 100))
    v = image_version(str(img))
    assert v.release == "6.9.0-rc1" and v.build == "#1 SMP PREEMPT Tue Mar 12 10:00:00 UTC 2024"
    assert v.matches("6.9.0-rc1\n", "#1 SMP PREEMPT Tue Mar 12 10:00:00 UTC 2024\n")
    assert not v.matches("6.9.0-rc1", "#2 SMP PREEMPT Tue Mar 12 10:00:00 UTC 2024")
    (tmp_path / "junk").write_bytes(b"not a kernel")
    assert image_version(str(tmp_path / "junk")) is None


GRUB_LIB = pathlib.Path("/usr/share/grub/grub-mkconfig_lib")
NASTY = ["root=/dev/sda1", "ro", "it's", r"a\047;echo INJECTED;\047", r"x\\y", r"\c", "$(reboot)",
         "${IFS}", "`id`", 'dyndbg="file x.c +p"', "}"]


@pytest.mark.skipif(not GRUB_LIB.exists() or not shutil.which("grub-script-check"),
                    reason="needs Debian's grub-common (scripts/install_deps.sh installs it)")
@pytest.mark.parametrize("shell", ["dash", "bash", "busybox"])
def test_grub_generator_writes_every_word_as_grub_data_in_any_shell(tmp_path, shell):
    if not shutil.which(shell):
        pytest.skip(f"{shell} not installed")
    img = tmp_path / "vmlinuz-x"
    img.write_bytes(b"kernel")
    words = [w.replace('"', "") for w in deploy.kernel_words(" ".join(NASTY))]
    entry = tmp_path / "grub-entry"
    entry.write_text("\n".join([str(img), "fastpath-x", ""] + words) + "\n")
    # grub-mkconfig's library, with the two functions that need a real GRUB device stubbed
    lib = tmp_path / "grub-mkconfig_lib"
    lib.write_text(f". {GRUB_LIB}\n"
                   "prepare_grub_to_access_device () { printf 'insmod ext2\\nset root=hd0,1\\n'; }\n"
                   "make_system_path_relative_to_its_root () { printf '/fastpath/%s' \"${1##*/}\"; }\n")
    gen = tmp_path / "42_fastpath"
    gen.write_text(deploy.GRUB_GENERATOR)
    argv = ["busybox", "sh", str(gen)] if shell == "busybox" else [shell, str(gen)]
    env = {"PATH": os.environ["PATH"], "pkgdatadir": str(tmp_path), "grub_probe": "echo",
           "FASTPATH_GRUB_ENTRY": str(entry)}
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    cfg = tmp_path / "grub.cfg"
    cfg.write_text(out)
    assert subprocess.run(["grub-script-check", str(cfg)], capture_output=True).returncode == 0, out
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    assert out.splitlines() == ["menuentry 'fastpath fastpath-x' --id 'fastpath-x' {",
                                "  insmod ext2", "  set root=hd0,1",
                                f"  linux '/fastpath/vmlinuz-x' {quoted}", "}"], out
