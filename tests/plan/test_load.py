"""Plan loading: includes, inline benchmarks, defaults merge, strict one-line errors."""

from __future__ import annotations

import pathlib
import textwrap

import pytest

from fastpath.cli.main import main
from fastpath.errors import PlanError
from fastpath.plan import load_plan, parse_duration, plan_from_mapping

GOOD = """\
sut:
  name: "Ampere Altra Max"
  connection: {method: SSH, params: {host: test-server, user: root, port: 22}}
  power_cycle: "pdu-cycle test-server"
swprofiles:
  - name: 6.8.0-baseline
    kernel: Image.gz
    cmdline: [quiet, "isolcpus=1"]
    sysctl: [kernel.numa_balancing=0]
    bootscript: ["echo 1 > /proc/sys/vm/drop_caches"]
  - name: 6.9.0
benchmarks:
  - include: sysbench/thread.yaml
    params: {yields: 42}
    repeats: 5
  - suite: mine
    name: echo
    check: ["true"]
    params: {n: 3}
    command: [sh, -c, "echo x v={n}"]
    parser: keyvalue
    resultclasses: [{name: "mine-{n}", metric: v, unit: s, improvement: lower}]
defaults:
  benchmark: {warmups: 2, repeats: 4, sessions: 3, timeout: 30m}
"""


def write(tmp_path: pathlib.Path, text: str, name: str = "plan.yaml") -> pathlib.Path:
    (tmp_path / "Image.gz").write_bytes(b"\x1f\x8b")
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_good_plan_merges_defaults_and_overrides(tmp_path):
    plan = load_plan(write(tmp_path, GOOD))
    assert plan.sut.name == "Ampere Altra Max" and plan.sut.connection.port == 22
    assert plan.sut.power_cycle == "pdu-cycle test-server" and plan.sut.boot_method == "kexec"
    base, new = plan.swprofiles
    assert base.kernel == str(tmp_path / "Image.gz") and base.cmdline == ("quiet", "isolcpus=1")
    assert new.kernel is None and new.sysctl == ()
    thread, mine = plan.benchmarks
    assert thread.id == "sysbench/thread" and thread.resultclasses[0].name == "sysbenchthread-42"
    assert (thread.warmups, thread.repeats, thread.sessions, thread.timeout) == (2, 5, 3, 1800)
    assert mine.command == ("sh", "-c", "echo x v=3") and mine.repeats == 4
    assert plan.sessions == 3 and plan.samples_per_session(0) == 5 + 4


def test_from_mapping_is_the_same_schema(tmp_path):
    import yaml
    data = yaml.safe_load(GOOD)
    data["swprofiles"][0]["kernel"] = str(write(tmp_path, GOOD).parent / "Image.gz")
    assert plan_from_mapping(data).benchmarks[0].repeats == 5


@pytest.mark.parametrize("value,seconds", [("1h", 3600), ("30m", 1800), ("90s", 90), (45, 45),
                                           ("1h30m", 5400), ("2.5m", 150)])
def test_durations(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "", "-5s", 0, True, "1d"])
def test_bad_durations(value):
    assert parse_duration(value) is None


BAD = [  # (edit of GOOD, expected line, expected key, words in the message)
    (("port: 22", "port: twenty"), 3, "sut.connection.params.port", "expected an integer"),
    (("user: root,", "usr: root,"), 3, "sut.connection.params.usr", "unknown key"),
    (("kernel: Image.gz", "kernel: nope.bz"), 7, "swprofiles[0].kernel", "file not found"),
    (("repeats: 5", "repeat: 5"), 15, "benchmarks[0].repeat", "unknown key"),
    (("{yields: 42}", "{yelds: 42}"), 14, "benchmarks[0].params.yelds", "unknown parameter"),
    (("sysbench/thread.yaml", "sysbench/nope.yaml"), 13, "benchmarks[0].include", "not found"),
    (("kernel.numa_balancing=0", "kernel numa"), 9, "swprofiles[0].sysctl[0]", "key=value"),
    (("timeout: 30m", "timeout: soon"), 24, "defaults.benchmark.timeout", "duration"),
    (("parser: keyvalue", "parser: nosuch"), 21, "benchmarks[1].parser", "unknown parser"),
    (("name: 6.9.0", "name: 6.8.0-baseline"), 11, "swprofiles[1].name", "duplicate"),
    (('"isolcpus=1"', "[1, 2]"), 8, "swprofiles[0].cmdline[1]", "expected a string"),
    (('"isolcpus=1"', '"isolcpus=1 quiet"'), 8, "swprofiles[0].cmdline[1]", "one kernel word"),
    (('"isolcpus=1"', "'dyndbg=\"file x.c'"), 8, "swprofiles[0].cmdline[1]", "one kernel word"),
    (('"isolcpus=1"', '"x=\\"a\\tb\\""'), 8, "swprofiles[0].cmdline[1]", "control characters"),
    (('"isolcpus=1"', "'a\"b c\"d'"), 8, "swprofiles[0].cmdline[1]", "one kernel word"),
    (("v={n}", "v={m}"), 20, "benchmarks[1].command[2]", "unknown parameter"),
    (("method: SSH", "method: telnet"), 3, "sut.connection.method", "expected one of SSH"),
    (('  name: "Ampere Altra Max"\n', ""), 1, "sut", "missing required key 'name'"),
]


def test_a_cmdline_word_may_hold_blanks_inside_double_quotes(tmp_path):
    plan = load_plan(write(tmp_path, GOOD.replace('"isolcpus=1"', "'dyndbg=\"file x.c +p\"'", 1)))
    assert plan.swprofiles[0].cmdline == ("quiet", 'dyndbg="file x.c +p"')


@pytest.mark.parametrize("edit,line,key,words", BAD, ids=[b[2] for b in BAD])
def test_malformed_plan_names_file_key_and_line(tmp_path, capsys, edit, line, key, words):
    old, new = edit
    assert old in GOOD
    plan = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(PlanError) as info:
        load_plan(plan)
    msg = str(info.value)
    assert msg.startswith(f"{plan}:{line}, key '{key}': ") and words in msg, msg
    assert "\n" not in msg
    assert main(["plan", "exec", "--output", str(tmp_path / "out"), str(plan)]) == 1
    err = capsys.readouterr().err
    assert err == f"Error: {msg}\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text,line,words", [
    ("sut: [\n", 2, "malformed YAML"),
    ("sut: {name: a}\nsut: {name: b}\n", 2, "duplicate key"),
    ("", None, "the plan is empty"),
    ("- a\n- b\n", 1, "expected a mapping"),
])
def test_malformed_yaml(tmp_path, text, line, words):
    plan = write(tmp_path, text)
    with pytest.raises(PlanError) as info:
        load_plan(plan)
    assert str(info.value).startswith(f"{plan}:{line}" if line else str(plan))
    assert words in str(info.value)


def test_missing_plan_file(tmp_path, capsys):
    assert main(["plan", "exec", str(tmp_path / "absent.yaml")]) == 1
    assert capsys.readouterr().err == f"Error: {tmp_path / 'absent.yaml'}: file not found\n"


def test_error_inside_an_included_file_names_that_file(tmp_path):
    (tmp_path / "mine.yaml").write_text("suite: mine\nname: x\ncommand: [a]\nparser: keyvalue\n"
                                        "resultclasses: [{name: r, metric: v, improvement: up}]\n")
    plan = write(tmp_path, GOOD.replace("sysbench/thread.yaml", "mine.yaml")
                 .replace("    params: {yields: 42}\n", ""))
    with pytest.raises(PlanError) as info:
        load_plan(plan)
    assert str(info.value).startswith(f"{tmp_path / 'mine.yaml'}:5, key "
                                      f"'resultclasses[0].improvement'")
