from __future__ import annotations

from pathlib import Path

from nakt_edge.provenance import machine


def test_machine_names_the_cpu_and_the_flags_int8_speed_depends_on(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    core = "model name\t: Test CPU 9000\nflags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni\n"
    cpuinfo.write_text(f"processor\t: 0\n{core}\nprocessor\t: 1\n{core}")
    found = machine(cpuinfo)
    assert found["cpu"] == "Test CPU 9000" and found["cpu_flags"] == "avx2 avx512f avx512_vnni"
    assert machine(tmp_path / "missing")["cpu_flags"] == ""  # not Linux: no flags, still a CPU name
    assert machine(tmp_path / "missing")["cpu"]
