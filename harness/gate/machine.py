"""The machine class a gate baseline belongs to: accelerator, device, core count.

    python -m harness.gate.machine [RUN_DIR]   # prints the class of this machine (or of a run)

Throughput is only comparable on the same kind of machine, so baselines live under
results/baselines/<class>/ and `harness gate` refuses to judge runs of two classes.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from harness.errors import fail
from harness.metrics.bandwidth import SOFTWARE_DEVICES


def machine_class(env: dict[str, Any]) -> str:
    """e.g. cpu-amd-epyc-2c: accelerator, device (GPU, else CPU model), logical cores. A software GPU
    (llvmpipe) computes on the host CPU, so its class names that CPU too."""
    device = str(env.get("gpu_info") or env.get("device") or env.get("cpu_info") or "unknown")
    if re.search(SOFTWARE_DEVICES, device, re.IGNORECASE):  # computes on the host CPU: that is the machine
        device = f"{device.split(': ')[-1].split(' (')[0]} on {env.get('cpu_info', 'unknown')}"  # llvmpipe on ...
    slug = re.sub(r"[^a-z0-9]+", "-", device.lower()).strip("-")[:60 if " on " in device else 40]
    return f"{env.get('accel', 'cpu')}-{slug}-{env.get('cpu_cores_logical', '?')}c"


def run_env(run: Path) -> dict[str, Any] | None:
    """env.json of a run folder (or of the folder of a results.csv), else of its first shard."""
    folder = run if run.is_dir() else run.parent
    for path in [folder / "env.json", *sorted(folder.glob("jobs/*/env.json"))]:
        if path.is_file():
            env: dict[str, Any] = json.loads(path.read_text())
            return env
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        env = run_env(Path(argv[0]))
        if env is None:
            return fail("harness.gate.machine", f"no env.json in {argv[0]}")
    else:
        from harness.records.env import environment
        env = environment()
    print(machine_class(env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
