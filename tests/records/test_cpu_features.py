"""The CPU features that pick llama.cpp's kernels: parsed from /proc/cpuinfo (x86 `flags`, ARM
`Features`) and macOS's `sysctl hw.optional`, carried in env.json and every row, shown by report and
named by `harness compare` where two runs' machines differ."""
from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import pandas as pd

from harness.records import env
from harness.records.schema import CONFIG_KEYS, NAMES
from harness.report.compare import markdown
from harness.report.compare_join import Run, join, label_runs
from harness.report.report import _environment

# Sapphire Rapids (Xeon Platinum 8480+), as a KVM guest reports it: AMX and AVX-512 FP16.
SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht \
syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc cpuid tsc_known_freq pni pclmulqdq ssse3 \
fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm abm \
3dnowprefetch cpuid_fault ssbd ibrs ibpb stibp ibrs_enhanced fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid \
avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 \
xsaves avx_vnni avx512_bf16 wbnoinvd arat avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni \
avx512_bitalg avx512_vpopcntdq rdpid bus_lock_detect cldemote movdiri movdir64b fsrm md_clear serialize tsxldtrk ibt \
amx_bf16 avx512_fp16 amx_tile amx_int8 flush_l1d arch_capabilities
bugs\t\t: spectre_v1 spectre_v2 spec_store_bypass swapgs eibrs_pbrsb

processor\t: 1
flags\t\t: fpu sse sse2
"""
SAPPHIRE_RAPIDS_KEPT = ["amx_bf16", "amx_int8", "amx_tile", "avx", "avx2", "avx512_bf16", "avx512_bitalg",
                        "avx512_fp16", "avx512_vbmi2", "avx512_vnni", "avx512_vpopcntdq", "avx512bw", "avx512cd",
                        "avx512dq", "avx512f", "avx512ifma", "avx512vbmi", "avx512vl", "avx_vnni", "f16c", "fma",
                        "sse4_2"]

# AMD EPYC 7B13 (Zen 3): AVX2 but no AVX-512, no AMX.
EPYC_ZEN3 = """model name\t: AMD EPYC 7B13
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht \
syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid tsc_known_freq \
pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm \
cmp_legacy cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw topoext invpcid_single ssbd ibrs ibpb stibp vmmcall \
fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 \
clzero xsaveerptr arat npt nrip_save umip vaes vpclmulqdq rdpid fsrm
"""

# AWS Graviton 3 (Neoverse V1): NEON, dotprod, SVE, i8mm, bf16; no SVE2, no SME.
GRAVITON3 = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop \
sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs paca pacg dcpodp svei8mm svebf16 i8mm bf16 dgh rng
CPU implementer\t: 0x41
"""

APPLE_M4 = """hw.optional.arm.FEAT_BF16: 1
hw.optional.arm.FEAT_DotProd: 1
hw.optional.arm.FEAT_I8MM: 1
hw.optional.arm.FEAT_SME: 1
hw.optional.arm.FEAT_SME2: 1
hw.optional.arm.FEAT_SVE: 0
hw.optional.AdvSIMD: 1
hw.optional.neon_fp16: 1
hw.optional.floatingpoint: 1
"""

INTEL_MAC = """hw.optional.sse4_2: 1
hw.optional.avx1_0: 1
hw.optional.avx2_0: 1
hw.optional.fma: 1
hw.optional.f16c: 1
hw.optional.avx512f: 0
hw.optional.x86_64: 1
"""


def test_sapphire_rapids_keeps_amx_and_every_avx512_variant_and_drops_the_rest():
    assert env.parse_cpu_flags(SAPPHIRE_RAPIDS) == SAPPHIRE_RAPIDS_KEPT  # the first core's line, sorted


def test_epyc_without_amx_or_avx512():
    assert env.parse_cpu_flags(EPYC_ZEN3) == ["avx", "avx2", "f16c", "fma", "sse4_2"]


def test_arm_features_use_llama_cpp_names():
    # asimd -> neon, asimddp -> dotprod; svei8mm, svebf16, asimdhp... are not kept
    assert env.parse_cpu_flags(GRAVITON3) == ["bf16", "dotprod", "i8mm", "neon", "sve"]


def test_macos_sysctl_counts_only_features_set_to_1():
    assert env.parse_cpu_flags(APPLE_M4) == ["bf16", "dotprod", "i8mm", "neon", "sme"]
    assert env.parse_cpu_flags(INTEL_MAC) == ["avx", "avx2", "f16c", "fma", "sse4_2"]


def test_text_without_flags_gives_nothing():
    assert env.parse_cpu_flags("") == []
    assert env.parse_cpu_flags("model name\t: Some CPU\nbugs\t: avx2 fma\n") == []


def test_this_machine_is_recorded_in_env_rows_and_the_report():
    got = env.cpu_features()
    flags = got.split(",")
    assert flags == sorted(set(flags))
    if sys.platform == "linux":
        assert got == ",".join(env.parse_cpu_flags(Path("/proc/cpuinfo").read_text()))
    if platform.machine() in ("x86_64", "AMD64"):
        assert "sse4_2" in flags  # every x86-64 that runs llama.cpp has it
    elif platform.machine() in ("arm64", "aarch64"):
        assert "neon" in flags
    assert env.environment()["cpu_features"] == got and env.row_columns()["cpu_features"] == got
    assert "cpu_features" in NAMES


def test_the_report_environment_shows_the_features(tmp_path):
    (tmp_path / "env.json").write_text(json.dumps({"cpu_info": "Xeon", "cpu_features": "amx_tile,avx2"}))
    assert "- cpu_features: amx_tile,avx2" in _environment(tmp_path)


def run(name: str, features: str | None, in_env: bool = True) -> Run:
    """A one-point run; features in env.json, or (in_env=False) only in its rows; None: an older run."""
    row = {k: "" for k in CONFIG_KEYS} | {"status": "ok", "workload": "pp_tg", "model_name": "m", "quant": "Q8_0",
                                          "test": "tg128", "avg_ts": "10", "accel": "cpu", "device": name}
    rec = {} if features is None else {"cpu_features": features}
    return Run(Path(name), pd.DataFrame([row | (rec if not in_env else {})]), {}, rec if in_env else {})


def compare_md(*runs: Run) -> str:
    label_runs(list(runs))
    return markdown(list(runs), join(list(runs)), ())


def test_compare_names_the_features_only_one_run_has():
    spr = run("spr", ",".join(SAPPHIRE_RAPIDS_KEPT))
    epyc = run("epyc", "avx,avx2,f16c,fma,sse4_2,sse4a_not_kept_but_recorded")
    md = compare_md(spr, epyc)
    lines = [ln for ln in md.splitlines() if ln.startswith("CPU features differ")]
    amx_avx512 = [f for f in SAPPHIRE_RAPIDS_KEPT if f.startswith(("amx", "avx512", "avx_vnni"))]
    assert lines == [f"CPU features differ: only cpu spr has {', '.join(amx_avx512)}; "
                     "only cpu epyc has sse4a_not_kept_but_recorded"]
    assert "\n\nCPU features differ" in md  # its own paragraph, not a row of the table above it
    # a subset names one side only; from the rows when env.json lacks it
    sub = compare_md(run("a", "avx,avx2,fma", in_env=False), run("b", "avx,avx2", in_env=False))
    assert "CPU features differ: only cpu a has fma\n" in sub and "only cpu b" not in sub


def test_compare_says_nothing_when_features_agree_or_a_run_predates_them():
    assert "CPU features" not in compare_md(run("a", "avx,avx2,fma"), run("b", "fma,avx2,avx"))
    assert "CPU features" not in compare_md(run("a", "avx,avx2,amx_tile"), run("old", None))
    assert "CPU features" not in compare_md(run("old", None, in_env=False), run("b", "avx2"))
    assert "CPU features" not in compare_md(run("a", "avx2", in_env=False), run("old", ""))
