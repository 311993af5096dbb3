"""Plans on the lab VM: real kernels deployed over SSH and booted with kexec, or through GRUB."""

from __future__ import annotations

import collections
import socket
import threading
import json
import subprocess
import time

import pytest
import yaml

from fastpath.cli.main import main
from fastpath.execute import run_plan
from fastpath.lab import cache, history, kernel, vm
from fastpath.lab.home import git
from fastpath.plan import load_plan
from fastpath.plan.model import SutSpec, SwProfileSpec
from fastpath.store import open_store
from fastpath.sut.machine import SHELL, SutMachine
from fastpath.sut.transport import Connection

pytestmark = pytest.mark.lab

BENCHES = [{"include": "fp/syscall.yaml", "params": {"iterations": 100000}},
           {"include": "fp/pipe.yaml", "params": {"roundtrips": 200}}]


@pytest.fixture(scope="module")
def kernels(lab_tree, lab_kernel, tmp_path_factory):
    """(base, changed, panicking) builds: two commits on top of the lab base."""
    out = tmp_path_factory.mktemp("plan-kernels")
    built = {}
    edits = {"changed": ("kernel/sys.c", "SYSCALL_DEFINE0(getppid)\n",
                         "/* plan test: a change */\nSYSCALL_DEFINE0(getppid)\n"),
             "panic": ("init/main.c", history.PANIC_ANCHOR, history.PANIC_ANCHOR + history.PANIC_LINE)}
    try:
        for name, (path, old, new) in edits.items():
            git(lab_tree, "checkout", "-q", "-f", "-B", f"plan-{name}", kernel.BASE_TAG)
            f = lab_tree / path
            f.write_text(f.read_text().replace(old, new, 1))
            git(lab_tree, "commit", "-q", "-a", "-m", f"plan test: {name}")
            built[name] = kernel.build(lab_tree, output=out / name)
    finally:
        cache.reset_to_base(lab_tree)
    return lab_kernel, built["changed"], built["panic"]


@pytest.fixture(scope="module")
def own_vm(lab_kernel, tmp_path_factory):
    home = tmp_path_factory.mktemp("plan-lab")
    lab = vm.up(lab_kernel.image, home=home)
    try:
        yield lab
    finally:
        vm.down(home)


def write_plan(path, lab, swprofiles, benchmarks=BENCHES, sessions=2, boot_timeout="60s"):
    sut = dict(lab.sut(), power_cycle=f"fastpath lab power-cycle --home {lab.home}",
               boot_timeout=boot_timeout)
    path.write_text(yaml.safe_dump({
        "sut": sut, "swprofiles": swprofiles, "benchmarks": benchmarks,
        "defaults": {"benchmark": {"warmups": 1, "repeats": 3, "sessions": sessions,
                                   "timeout": "5m"}}}, sort_keys=False))
    return path


def swprofile(name, build, **extra):
    return dict({"name": name, "kernel": str(build.image), "modules": str(build.modules),
                 "kernel_git_sha": build.gitsha}, **extra)


def test_two_kernels_two_sessions_then_result_show(own_vm, kernels, tmp_path, capsys):
    base, changed, _ = kernels
    plan = write_plan(tmp_path / "plan.yaml", own_vm,
                      [swprofile("base", base, sysctl=["kernel.printk=3 4 1 3"]),
                       swprofile("changed", changed, bootscript=["echo ok > /tmp/bootscript"])])
    store = str(tmp_path / "res")
    assert main(["plan", "exec", "--no-progress", "--output", store, str(plan)]) == 0
    assert "24 samples, 0 errors" in capsys.readouterr().out
    with open_store(store, readonly=True) as s:
        sessions = s.sessions()
        assert [(x.swprofile, x.session, x.status) for x in sessions] == [
            ("base", 0, "complete"), ("base", 1, "complete"),
            ("changed", 0, "complete"), ("changed", 1, "complete")]
        assert len({x.boot_id for x in sessions}) == 4          # a fresh boot per session
        profiles = {p.id: p for p in s.swprofiles()}
        assert profiles["base"].kernel_git_sha == base.gitsha
        assert profiles["changed"].kernel_name == changed.release
        assert collections.Counter((x.swprofile, x.resultclass) for x in s.samples()) == {
            (p, rc): 6 for p in ("base", "changed")
            for rc in ("fpsyscall-getppid", "fppipe-roundtrip")}
    assert main(["result", "show", store, "--swprofile", "base", "--swprofile", "changed"]) == 0
    shown = capsys.readouterr().out
    assert "fpsyscall-getppid" in shown and "changed" in shown
    assert main(["result", "show", store, "--swprofile", "base", "--swprofile", "changed",
                 "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted((r["resultclass"], r["swprofile"], r["count"]) for r in rows) == [
        ("fppipe-roundtrip", "base", 6), ("fppipe-roundtrip", "changed", 6),
        ("fpsyscall-getppid", "base", 6), ("fpsyscall-getppid", "changed", 6)]
    assert all(r["change_pct"] is not None for r in rows if r["swprofile"] == "changed")
    # the last session booted "changed" and ran its bootscript and the kernel's build string
    kv = own_vm.ssh_command("uname -v; cat /tmp/bootscript")
    out = subprocess.run(kv, capture_output=True, text=True, timeout=60).stdout
    assert out.startswith(f"#{changed.gitsha[:12]} ") and out.endswith("ok\n")


def panic_then(lab, tmp_path, panic, then: dict, boot_timeout: str) -> str:
    """Run a plan of a panicking swprofile, then ``then`` (1 session each); check the first
    is a boot error and the second completed alone; return the store URL."""
    plan = write_plan(tmp_path / "plan.yaml", lab, [swprofile("panics", panic), then],
                      benchmarks=BENCHES[:1], sessions=1, boot_timeout=boot_timeout)
    url = f"sqlite:///{tmp_path}/r.db"
    outcome = run_plan(load_plan(plan), url, progress=False)
    assert outcome.swprofiles[0].boot_failed and outcome.swprofiles[1].ok
    with open_store(url, readonly=True) as s:
        err, = s.errors()
        assert (err.swprofile, err.stage, err.session) == ("panics", "boot", 0)
        assert f"did not come back within {boot_timeout[:-1]} s" in err.message
        assert [(x.swprofile, x.status) for x in s.sessions()] == [(then["name"], "complete")]
        assert {x.swprofile for x in s.samples()} == {then["name"]}
    return url


def test_panicking_kernel_is_an_error_and_the_plan_goes_on(own_vm, kernels, tmp_path):
    base, _, panic = kernels
    panic_then(own_vm, tmp_path, panic, swprofile("base", base), "25s")
    assert "boot failure injected" in own_vm.serial_log.read_text(errors="replace")


def test_an_image_kexec_refuses_is_a_boot_error_in_one_line_and_the_plan_goes_on(own_vm, kernels,
                                                                                 tmp_path):
    base, _, _ = kernels
    junk = tmp_path / "not-a-kernel"
    junk.write_bytes(b"MZ but not a kernel\n" * 64)
    plan = write_plan(tmp_path / "plan.yaml", own_vm,
                      [{"name": "junk", "kernel": str(junk)}, swprofile("base", base)],
                      benchmarks=BENCHES[:1], sessions=1)
    url = f"sqlite:///{tmp_path}/r.db"
    outcome = run_plan(load_plan(plan), url, progress=False)
    assert outcome.swprofiles[0].boot_failed and outcome.swprofiles[1].ok
    with open_store(url, readonly=True) as s:
        err, = s.errors()
        assert (err.swprofile, err.stage) == ("junk", "boot")
        assert err.message.startswith("remote command failed on ") and "kexec -l /boot/fastpath/vmlinuz-junk" \
            in err.message and "\n" not in err.message, err.message
        assert [(x.swprofile, x.status) for x in s.sessions()] == [("base", "complete")]


@pytest.fixture
def drop_switch():
    """A TCP server on the host (the guest reaches it as 10.0.2.2): answers "drop" to the
    first connection, "keep" to the others. It tells the fault injector when to fire,
    which a file in the VM cannot (the initramfs is fresh after every kexec)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    answers = [b"drop\n"]

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conn.sendall(answers.pop() if answers else b"keep\n")
            conn.close()
    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()


def test_ssh_drop_in_the_lab_keeps_samples_and_redoes_the_session(own_vm, lab_kernel, tmp_path,
                                                                  drop_switch):
    base = lab_kernel
    # Fault injector: told to, the run kills the dropbear process serving the connection.
    fakedrop = {"suite": "fakedrop", "name": "syscall", "warmups": 0,
                "command": ["sh", "-c", f"p=$PPID; if [ \"$(nc 10.0.2.2 {drop_switch} "
                            "</dev/null)\" = drop ]; then (sleep 0.2; kill -9 $p) & fi; "
                            "fp-syscall -n 2000000"],
                "parser": "keyvalue", "resultclasses": [
                    {"name": "fakedrop-getppid", "metric": "ns_per_call", "improvement": "lower"}]}
    plan = write_plan(tmp_path / "plan.yaml", own_vm, [swprofile("base", base)],
                      benchmarks=[BENCHES[0], fakedrop], sessions=1)
    url = f"sqlite:///{tmp_path}/r.db"
    run_plan(load_plan(plan), url, progress=False)
    run_plan(load_plan(plan), url, append=True, progress=False)   # nothing left to do
    with open_store(url, readonly=True) as s:
        assert [(x.session, x.status) for x in s.sessions()] == [(0, "failed"), (1, "complete")]
        err, = s.errors()
        assert err.stage == "benchmark" and err.benchmark == "fakedrop/syscall"
        ids = collections.Counter((x.resultclass, x.session, x.repeat) for x in s.samples())
    assert set(ids.values()) == {1}
    assert sorted(ids) == sorted([("fpsyscall-getppid", 0, r) for r in range(3)]
                                 + [("fpsyscall-getppid", 1, r) for r in range(3)]
                                 + [("fakedrop-getppid", 1, r) for r in range(3)])


def test_cmdline_words_reach_the_kernel_as_data(own_vm, lab_kernel):
    base = lab_kernel
    params = own_vm.connection()["params"]
    m = SutMachine(SutSpec("lab", Connection(**params), boot_timeout=60))
    m.transition(SHELL)
    word = "fastpath.t=x;touch${IFS}/pwned;$(reboot)"
    info = m.boot(SwProfileSpec("words", str(base.image), cmdline=(word, "quiet")))
    assert info.kernel_release == base.release and m.state == SHELL
    out = m.t.run(["sh", "-c", "cat /proc/cmdline; ls /pwned 2>&1"]).stdout
    m.close()
    assert f"{word} quiet" in out and "No such file" in out


def test_bzimage_names_its_release_and_build(lab_kernel):
    from fastpath.sut.kimage import image_version
    v = image_version(str(lab_kernel.image))
    assert v.release == lab_kernel.release and v.build.startswith(f"#{lab_kernel.gitsha[:12]} ")


# -- boot_method: grub, on a VM that boots from a disk through GRUB ---------------------------

@pytest.fixture(scope="module")
def grub_vm(lab_kernel, tmp_path_factory):
    home = tmp_path_factory.mktemp("grub-lab")
    lab = vm.up(lab_kernel.image, home=home, boot="grub")
    try:
        yield lab
    finally:
        vm.down(home)


def _ssh(lab, command):
    return subprocess.run(lab.ssh_command(command), capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL).stdout


def test_grub_vm_runs_its_default_kernel_from_an_ext2_root(grub_vm, lab_kernel):
    out = _ssh(grub_vm, "uname -r; cat /proc/cmdline; grep ' / ' /proc/mounts")
    release, cmdline, mount = out.splitlines()[:3]
    assert release == lab_kernel.release
    assert cmdline.startswith(f"BOOT_IMAGE=/boot/vmlinuz-{lab_kernel.release} root=/dev/vda1 ro")
    assert " / ext2 rw" in mount
    assert grub_vm.sut()["boot_method"] == "grub"
    assert f"Booting `fastpath-lab, Linux {lab_kernel.release}'" in grub_vm.serial_log.read_text(errors="replace")


def test_plan_switches_kernels_with_grub_reboot_once(grub_vm, kernels, tmp_path):
    base, changed, panic = kernels
    word = "fastpath.t=x;touch${IFS}/pwned;$(reboot)"
    panic_then(grub_vm, tmp_path, panic,
               swprofile("changed", changed, cmdline=[word, 'dyndbg="file sys.c +p"']), "40s")
    # the panicking kernel was GRUB's one-shot entry: the power-cycle came back to the default
    assert "boot failure injected" in grub_vm.serial_log.read_text(errors="replace")
    out = _ssh(grub_vm, "uname -v; cat /proc/cmdline; ls /pwned 2>&1; grep -c \"^menuentry 'fastpath \" "
                        "/boot/grub/grub.cfg; grub-editenv list")
    build, cmdline, pwned, entries, *env = out.splitlines()
    assert build.startswith(f"#{changed.gitsha[:12]} ")
    assert cmdline.startswith("BOOT_IMAGE=/boot/fastpath/vmlinuz-changed root=/dev/vda1 ro console=ttyS0 ")
    assert cmdline.endswith(f' {word} "dyndbg=file sys.c +p"')
    assert "No such file" in pwned and entries == "1" and not any("next_entry=f" in e for e in env)
    # a new process (each `bisect run` is one) extends the SUT's own command line, not the
    # running kernel's: the last swprofile's words do not pile up
    m = SutMachine(SutSpec("lab", Connection(**grub_vm.connection()["params"]), boot_method="grub",
                           boot_timeout=60))
    m.transition(SHELL)
    m.boot(SwProfileSpec("changed", str(changed.image)))
    again = m.t.run(["cat", "/proc/cmdline"]).stdout.strip()
    m.close()
    assert again == "BOOT_IMAGE=/boot/fastpath/vmlinuz-changed root=/dev/vda1 ro console=ttyS0"
    # one-shot: a plain reboot now comes back to the distribution's default kernel
    subprocess.run(grub_vm.ssh_command("{ (sleep 1; reboot) >/dev/null 2>&1 </dev/null & }"),
                   timeout=60, stdin=subprocess.DEVNULL, capture_output=True)
    old = build
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(2)
        now = _ssh(grub_vm, "uname -v").strip()
        if now and now != old:
            break
    assert now.startswith(f"#{base.gitsha[:12]} ")
