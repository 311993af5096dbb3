"""Fingerprint a SUT: hardware (HW) and software (SW), with POSIX sh + /proc + /sys only,
so it works on a busybox initramfs as well as on a full distribution.

    fp = fingerprint(transport)   # -> Fingerprint(hw={...}, sw={...})
    fp.sut("my-sut")              # -> store.model.Sut
"""

from __future__ import annotations

import dataclasses

from fastpath.store.model import Sut
from fastpath.sut.transport import Transport

# Each line prints "key=value"; every probe has a fallback and never fails the script.
SCRIPT = r"""
echo "host_name=$(cat /proc/sys/kernel/hostname 2>/dev/null || hostname)"
echo "architecture=$(uname -m)"
echo "cpu_count=$(grep -c '^processor' /proc/cpuinfo 2>/dev/null)"
m=$(grep -m1 -E '^(model name|cpu model|Hardware|Processor|uarch)[[:space:]]*:' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*:[[:space:]]*//')
[ -z "$m" ] && command -v lscpu >/dev/null 2>&1 && m=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)
echo "cpu_model=$m"
n=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
echo "numa_nodes=$n"
echo "memory_kib=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo)"
echo "product_name=$(cat /sys/class/dmi/id/product_name 2>/dev/null)"
echo "kernel_name=$(uname -r)"
echo "kernel_version=$(uname -v)"
echo "boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"
u=$( (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") )
[ -z "$u" ] && u=$(busybox 2>/dev/null | head -n1 | sed 's/ multi-call binary.*//')
echo "userspace=$u"
true
"""

HW_KEYS = ("host_name", "architecture", "cpu_count", "cpu_model", "numa_nodes", "memory",
           "product_name")
SW_KEYS = ("kernel_name", "userspace")


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    hw: dict
    sw: dict
    boot_id: str = ""
    kernel_version: str = ""    # `uname -v`

    def sut(self, name: str) -> Sut:
        return Sut(id=name, **self.hw)

    def as_dict(self) -> dict:
        return {"HW": dict(self.hw), "SW": dict(self.sw)}


COMPARED = ("architecture", "cpu_count", "cpu_model", "numa_nodes", "memory")
MEMORY_TOLERANCE = 0.02     # MemTotal moves by a few KiB between kernels and boots


def mismatches(stored: Sut, live: Sut, skip_unknown: bool = False) -> list[tuple[str, object, object]]:
    """The fields (key, stored value, live value) in which two fingerprints of what should be
    one machine differ: architecture, cpu_count, cpu_model, numa_nodes, and memory by more
    than 2%. host_name and product_name are not compared (renamed or absent machines).
    ``skip_unknown``: a field the stored SUT does not know ("" or 0, e.g. an imported SUT)
    matches anything."""
    out = []
    for key in COMPARED:
        was, now = getattr(stored, key), getattr(live, key)
        if skip_unknown and not was:
            continue
        if key == "memory":
            if was and abs(was - now) > MEMORY_TOLERANCE * was:
                out.append((key, was, now))
        elif was != now:
            out.append((key, was, now))
    return out


def parse(text: str) -> Fingerprint:
    raw = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            raw[key.strip()] = value.strip()
    hw = {"host_name": raw.get("host_name", ""), "architecture": raw.get("architecture", ""),
          "cpu_count": _int(raw.get("cpu_count")), "cpu_model": raw.get("cpu_model", ""),
          "numa_nodes": max(1, _int(raw.get("numa_nodes"))),
          "memory": _int(raw.get("memory_kib")) * 1024,
          "product_name": raw.get("product_name", "")}
    sw = {"kernel_name": raw.get("kernel_name", ""), "userspace": raw.get("userspace", "")}
    return Fingerprint(hw, sw, raw.get("boot_id", ""), raw.get("kernel_version", ""))


def fingerprint(transport: Transport, timeout: float = 60) -> Fingerprint:
    """Run the probe script on the SUT (one SSH command)."""
    return parse(transport.shell(SCRIPT, timeout=timeout).stdout)


def _int(value) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return 0
