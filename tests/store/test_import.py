"""`result import`: the interchange CSV/JSON, and every kind of bad row."""

from __future__ import annotations

import json
import re

import pytest

from fastpath.cli.main import main
from fastpath.store import open_store

HEADER = "sut,swprofile,benchmark,resultclass,unit,improvement,session,repeat,value"
ROWS = ["lab,6.8,fp/syscall,ns_per_call,ns,lower,0,0,101.5",
        "lab,6.8,fp/syscall,ns_per_call,ns,lower,0,1,102.25",
        "lab,6.9,fp/syscall,ns_per_call,ns,lower,0,0,120",
        "lab,6.9,sysbench/thread,events,ops/s,higher,1,0,5e3"]


def write(tmp_path, text, name="in.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_import_csv_creates_objects_and_is_idempotent(any_store_url, tmp_path, capsys):
    path = write(tmp_path, "\n".join([HEADER + ",kernel_git_sha,timestamp",
                                      *(r + ",abc123,2026-11-28T10:00:00Z" for r in ROWS)]) + "\n")
    assert main(["result", "import", any_store_url, path]) == 0
    assert "imported 4 new samples (0 already present) and 7 new objects" in capsys.readouterr().out
    assert main(["result", "import", any_store_url, path]) == 0
    assert "imported 0 new samples (4 already present) and 0 new objects" in capsys.readouterr().out
    with open_store(any_store_url, readonly=True) as store:
        assert sorted(s.value for s in store.samples()) == [101.5, 102.25, 120.0, 5000.0]
        assert {p.id: p.kernel_git_sha for p in store.swprofiles()} == {"6.8": "abc123", "6.9": "abc123"}
        assert {(b.id, b.suite, b.name) for b in store.benchmarks()} == {
            ("fp/syscall", "fp", "syscall"), ("sysbench/thread", "sysbench", "thread")}
        assert {(r.name, r.unit, r.improvement) for r in store.resultclasses()} == {
            ("ns_per_call", "ns", "lower"), ("events", "ops/s", "higher")}
        assert {s.timestamp for s in store.samples()} == {"2026-11-28T10:00:00Z"}


def test_import_json(store_url, tmp_path, capsys):
    keys = HEADER.split(",")
    items = [dict(zip(keys, r.split(","))) for r in ROWS]
    for item in items:
        item["session"], item["repeat"], item["value"] = int(item["session"]), int(item["repeat"]), \
            float(item["value"])
    path = write(tmp_path, json.dumps(items, indent=1), "in.json")
    assert main(["result", "import", store_url, path]) == 0
    with open_store(store_url, readonly=True) as store:
        assert sorted(s.value for s in store.samples()) == [101.5, 102.25, 120.0, 5000.0]


CSV_CASES = [
    (HEADER.replace(",value", ""), ROWS, r"in.csv:1: missing column 'value'"),
    (HEADER + ",foo", [r + ",1" for r in ROWS], r"in.csv:1: unknown column 'foo'"),
    (HEADER, [ROWS[0], ROWS[1].replace("102.25", "fast")], r"in.csv:3: column 'value' must be a number, not 'fast'"),
    (HEADER, [ROWS[0], ROWS[1].replace("102.25", "nan")], r"in.csv:3: column 'value' must be a finite number"),
    (HEADER, [ROWS[0], ROWS[1].replace(",0,1,", ",-1,1,")], r"in.csv:3: column 'session' must be an integer >= 0, not '-1'"),
    (HEADER, [ROWS[0], ROWS[1].replace(",0,1,", ",0,x,")], r"in.csv:3: column 'repeat' must be an integer"),
    (HEADER, [ROWS[0], ROWS[1].replace("lower", "down")], r"in.csv:3: column 'improvement' must be higher or lower, not 'down'"),
    (HEADER, [ROWS[0], ROWS[1].replace("lab,", ",", 1)], r"in.csv:3: column 'sut' is empty"),
    (HEADER, [ROWS[0], "lab,6.8,fp/syscall"], r"in.csv:3: 3 fields, the header has 9"),
    (HEADER, [ROWS[0], ROWS[1].replace(",ns,", ",us,")], r"in.csv:3: column 'unit': result class 'fp/syscall/ns_per_call' has unit 'ns' in .*in.csv:2, this row says 'us'"),
    (HEADER, [ROWS[0], ROWS[0].replace("101.5", "7")], r"in.csv:3: column 'value': the same sample \(session 0, repeat 0\) has value 101.5 at .*in.csv:2"),
    ("", [], r"in.csv:1: empty file"),
    (HEADER, [], r"in.csv: no samples in the file"),
]


@pytest.mark.parametrize("header, rows, message", CSV_CASES)
def test_bad_csv_rows_name_file_line_and_column_and_write_nothing(store_url, tmp_path, capsys,
                                                                  header, rows, message):
    path = write(tmp_path, "\n".join([header, *rows]) + "\n" if header else "")
    assert main(["result", "import", store_url, path]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.search(message, err), err
    with open_store(store_url, readonly=True) as store:
        assert store.count_samples() == 0 and store.swprofiles() == []


JSON_CASES = [
    ('{"sut": "lab"}', r"in.json:1: expected a JSON list"),
    ('[\n  {"sut": "lab",\n   "value": }\n]', r"in.json:3: invalid JSON"),
    ('[\n 1\n]', r"in.json:2: each item must be an object"),
    ('[\n{"sut":"a","swprofile":"p","benchmark":"b/c","resultclass":"r","unit":"u",'
     '"improvement":"higher","session":0,"repeat":0,"value":1},\n'
     '{"sut":"a","swprofile":"p","benchmark":"b/c","resultclass":"r","unit":"u",'
     '"improvement":"higher","session":0,"repeat":1,"value":"x"}\n]',
     r"in.json:3: column 'value' must be a number, not 'x'"),
    ('[\n{"sut":"a"}\n]', r"in.json:2: missing key 'swprofile'"),
]


@pytest.mark.parametrize("text, message", JSON_CASES)
def test_bad_json(store_url, tmp_path, capsys, text, message):
    path = write(tmp_path, text, "in.json")
    assert main(["result", "import", store_url, path]) == 1
    err = capsys.readouterr().err
    assert re.search(message, err) and err.count("\n") == 1, err


def test_conflict_with_store_and_missing_file(store_url, tmp_path, capsys):
    assert main(["result", "import", store_url, write(tmp_path, HEADER + "\n" + ROWS[0] + "\n")]) == 0
    capsys.readouterr()
    changed = write(tmp_path, HEADER + ",kernel_git_sha\n" + ROWS[1] + ",fff\n", "b.csv")
    assert main(["result", "import", store_url, changed]) == 1
    assert "b.csv:2: column 'kernel_git_sha': swprofile '6.8' has kernel_git_sha '' in sqlite:" \
        in capsys.readouterr().err
    assert main(["result", "import", store_url, str(tmp_path / "nope.csv")]) == 1
    assert "nope.csv: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_command_round_trips(any_store_url, tmp_path, capsys, fmt):
    path = write(tmp_path, "\n".join([HEADER, *ROWS]) + "\n")
    assert main(["result", "import", any_store_url, path]) == 0
    out = tmp_path / f"out.{fmt}"
    assert main(["result", "export", any_store_url, "--swprofile", "6.9", "--format", fmt,
                 "-o", str(out)]) == 0
    assert "exported 2 samples" in capsys.readouterr().out
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    assert main(["result", "import", copy, str(out)]) == 0
    with open_store(copy, readonly=True) as store:
        assert sorted(s.value for s in store.samples()) == [120.0, 5000.0]
    assert main(["result", "export", any_store_url, "--swprofile", "nope"]) == 1
    assert "--swprofile 'nope' is not in" in capsys.readouterr().err
    assert main(["result", "export", any_store_url, "-o", str(tmp_path / "no" / "x.csv")]) == 1
    assert "cannot write" in capsys.readouterr().err
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
