"""`fastpath lab kernel` from a user tree, and the cached tree the fixtures share."""

from __future__ import annotations

import pytest

from fastpath.cli.main import main
from fastpath.lab import cache, kernel
from fastpath.lab.home import git

pytestmark = pytest.mark.lab


def test_kernel_from_a_user_git_tree_commits_the_lab_defconfig(lab_tree, tmp_path, capsys):
    dest = tmp_path / "linux"
    assert main(["lab", "kernel", str(dest), "--source", str(lab_tree), "--no-build"]) == 0
    out = capsys.readouterr().out
    base = git(dest, "rev-parse", kernel.BASE_TAG + "^{commit}")
    assert f"base: {base}" in out and git(dest, "rev-parse", "HEAD") == base
    assert git(dest, "status", "--porcelain") == ""           # .config and outputs are ignored
    defconfig = (dest / kernel.DEFCONFIG_PATH).read_text()
    assert "CONFIG_KEXEC=y" in defconfig and "CONFIG_VIRTIO_NET=y" in defconfig
    assert kernel.tree_info(dest)["fragment"] == kernel.fragment_hash()
    # The lab config is whole in the generated .config.
    config = (dest / ".config").read_text()
    for line in ("CONFIG_SERIAL_8250_CONSOLE=y", "CONFIG_DEVTMPFS=y", "CONFIG_UNIX98_PTYS=y",
                 "CONFIG_MODULES=y", "CONFIG_BLK_DEV_INITRD=y", "CONFIG_SMP=y"):
        assert line in config


def test_source_that_is_not_a_kernel_tree_is_refused(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    assert main(["lab", "kernel", str(tmp_path / "dst"), "--source", str(tmp_path / "src")]) == 1
    assert "not a Linux kernel source tree" in capsys.readouterr().err


def test_session_tree_is_a_private_copy_of_the_cached_tree(lab_tree):
    cached = cache.cached_tree()
    assert cached != lab_tree and cached.name == lab_tree.name == "linux"
    git(lab_tree, "checkout", "-q", "-B", "scratch", kernel.BASE_TAG)
    (lab_tree / "README").write_text((lab_tree / "README").read_text() + "scratch\n")
    assert "scratch" not in (cached / "README").read_text()
    assert git(cached, "rev-parse", "HEAD") == git(cached, "rev-parse", kernel.BASE_TAG + "^{commit}")
    git(lab_tree, "checkout", "-q", "-f", "--detach", kernel.BASE_TAG)


def test_base_kernel_is_stamped_with_its_commit(lab_kernel, lab_tree):
    assert lab_kernel.gitsha == git(lab_tree, "rev-parse", kernel.BASE_TAG + "^{commit}")
    assert lab_kernel.image.stat().st_size > 1_000_000 and lab_kernel.modules.stat().st_size > 0
    assert lab_kernel.release.endswith("-fastpath-lab")
