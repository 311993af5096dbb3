"""The CLI's contract around every command: usage errors, an unwritable stdout, output files
(`result export -o`), and a light start (no scipy for `--help`)."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading

import pytest

from fastpath.cli.main import main

HEADER = "sut,swprofile,benchmark,resultclass,unit,improvement,session,repeat,value"
ROWS = [f"lab,6.8,fp/syscall,fpsyscall-getppid,ns,lower,0,{r},{100 + r}" for r in range(3)]


def fastpath(*args, stdout=subprocess.PIPE, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fastpath", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=120, **kw)


@pytest.fixture
def samples_store(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("\n".join([HEADER, *ROWS]) + "\n")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    assert main(["result", "import", url, str(src)]) == 0
    return url


def one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# -- usage errors: one line, exit 1 (2 means the SUT failed) --------------------------------
@pytest.mark.parametrize("args, message", [
    (["result", "list", "sqlite:///demo.db"], "fastpath result list: Missing option '--object'"),
    (["result", "list"], "fastpath result list: Missing argument 'STORE'"),
    (["result", "list", "x", "--object", "cpu"], "Invalid value for '--object'"),
    (["no-such-group"], "No such command 'no-such-group'"),
    (["result", "show", "x", "--no-such-flag"], "No such option '--no-such-flag'"),
])
def test_usage_errors_are_one_line_and_exit_1(capsys, args, message):
    assert main(args) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("Error: ") and message in line, line
    assert "--help" in line


def test_bisect_run_keeps_its_128_for_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bisect", "run", "--kernel", "k"])
    assert exit_.value.code == 128
    assert "Missing option '--context'" in one_error_line(capsys.readouterr().err)


def test_a_group_without_a_command_shows_its_help_and_exits_1(capsys):
    assert main(["result"]) == 1
    assert "Commands:" in capsys.readouterr().err


# -- a standard output that cannot be written ----------------------------------------------
@pytest.mark.parametrize("args", [
    ["--help"], ["--version"], ["result", "list", "STORE", "--object", "swprofile"],
    ["result", "show", "STORE", "--swprofile", "6.8"], ["result", "export", "STORE"],
    ["result", "export", "STORE", "--format", "json"],
], ids=" ".join)
def test_full_stdout_is_one_line_and_exit_1(samples_store, args):
    args = [samples_store if a == "STORE" else a for a in args]
    with open("/dev/full", "w") as full:
        proc = fastpath(*args, stdout=full)
    assert proc.returncode == 1, proc.stderr
    assert one_error_line(proc.stderr) == "Error: cannot write to standard output: No space left on device"


def test_closed_pipe_is_quiet(samples_store):
    proc = subprocess.Popen([sys.executable, "-m", "fastpath", "result", "export", samples_store],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 1 and err == ""


def test_other_os_errors_keep_their_traceback(monkeypatch, tmp_path):
    """Only stdout's own failure is turned into the one line: anything else is a bug."""
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("fastpath.store.listing.list_objects", broken)
    with pytest.raises(OSError):
        main(["result", "list", str(tmp_path), "--object", "sut"])


# -- result export -o PATH -----------------------------------------------------------------
def export(store, path) -> int:
    return main(["result", "export", store, "-o", str(path)])


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_export_new_file_follows_the_umask(samples_store, tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        assert export(samples_store, tmp_path / "out.csv") == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.csv").stat().st_mode) == mode


def test_export_over_a_file_keeps_its_mode_and_writes_it_whole(samples_store, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    out.chmod(0o640)
    assert export(samples_store, out) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert out.read_text().splitlines()[0].startswith(HEADER) and len(out.read_text().splitlines()) == 4
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_export_through_a_symlink_writes_its_target(samples_store, tmp_path):
    target = tmp_path / "real" / "data.csv"
    target.parent.mkdir()
    link = tmp_path / "link.csv"
    link.symlink_to(target)                       # dangling: the target is created
    assert export(samples_store, link) == 0
    assert link.is_symlink() and len(target.read_text().splitlines()) == 4
    assert export(samples_store, link) == 0       # and then replaced, the link kept
    assert link.is_symlink() and len(target.read_text().splitlines()) == 4


def test_export_to_a_fifo_streams_into_it(samples_store, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()), daemon=True)
    reader.start()
    assert export(samples_store, fifo) == 0
    reader.join(30)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert got and len(got[0].splitlines()) == 4


def test_export_to_a_full_device_fails_and_leaves_it_a_device(samples_store, tmp_path, capsys):
    link = tmp_path / "full"
    link.symlink_to("/dev/full")      # through a link: a regression replaces the link, not /dev/full
    assert export(samples_store, link) == 1
    assert "cannot write: No space left on device" in one_error_line(capsys.readouterr().err)
    assert link.is_symlink() and stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_export_to_dev_full_fails(samples_store):
    proc = fastpath("result", "export", samples_store, "-o", "/dev/full")
    assert proc.returncode == 1
    assert one_error_line(proc.stderr) == "Error: /dev/full: cannot write: No space left on device"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_export_never_replaces_a_socket(samples_store, tmp_path, capsys):
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        assert export(samples_store, path) == 1
    assert "not a regular file, FIFO or character device" in one_error_line(capsys.readouterr().err)
    assert stat.S_ISSOCK(path.lstat().st_mode)


# -- a light start -------------------------------------------------------------------------
HEAVY = ("scipy", "numpy", "matplotlib", "sqlalchemy", "pyarrow")


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["result", "--help"], ["bisect", "--help"]],
                         ids=" ".join)
def test_version_and_help_import_no_heavy_library(args):
    code = ("import sys\nfrom fastpath.cli.main import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            f"print('LOADED', sorted(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "LOADED []", proc.stdout + proc.stderr
