"""Plans against the loopback sshd: the running kernel (no kernel in the swprofile, no reboot)."""

from __future__ import annotations

import textwrap

import pytest
import yaml


def sshd_plan(tmp_path, sshd, benchmarks: str, sessions: int = 2, swprofiles=("running",),
              extra_sut: str = "") -> str:
    sut = {"name": "loopback", "connection": {"method": "SSH", "params": sshd.params()}}
    text = yaml.safe_dump({"sut": sut}) + textwrap.dedent(extra_sut)
    text += "swprofiles:\n" + "".join(f"  - name: {n}\n" for n in swprofiles)
    text += "benchmarks:\n" + textwrap.indent(textwrap.dedent(benchmarks), "  ")
    text += f"defaults:\n  benchmark: {{warmups: 1, repeats: 3, sessions: {sessions}, timeout: 60s}}\n"
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return str(path)


CPU = """\
- include: sysbench/cpu.yaml
  params: {max_prime: 2000, time: 0, events: 300}
"""
THREAD = """\
- include: sysbench/thread.yaml
  params: {threads: 2, time: 0, events: 300}
"""


@pytest.fixture
def plan_file(tmp_path, sshd):
    return sshd_plan(tmp_path, sshd, CPU + THREAD)
