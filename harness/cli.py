"""`harness` console script: bench (Hydra entry point), models prepare, report.

    harness bench [-m] [hydra overrides...]
    harness models prepare [model=...] [model.quant=A,B ...]
    harness report RUN_DIR...
"""
from __future__ import annotations

import sys
from pathlib import Path

USAGE = """usage: harness <command> [args]

commands:
  bench [-m] [overrides...]     run a benchmark point, or a sweep with -m (Hydra override grammar)
  models prepare [overrides...] build the models a config names (if missing), print each GGUF path
  report RUN_DIR...             write report.md and figures/ (PNG, SVG) for finished runs
  gate --baseline B --current C fail (exit 1) on a significant regression; 0 pass, 2 usage error
"""


def _fail(msg: str, code: int = 2) -> int:
    print(f"harness: error: {msg}", file=sys.stderr)
    return code


def bench(argv: list[str]) -> int:
    from harness.config.plan import plan
    from harness.config.validate import ConfigError
    from harness.sweep import app, progress

    multirun = any(a in ("-m", "--multirun") for a in argv)
    overrides = [a for a in argv if not a.startswith("-")]
    try:
        points = plan(overrides, multirun)
    except ConfigError as exc:
        return _fail(str(exc))
    if any(p.get("sweep") for p in points) and not multirun:
        return _fail("a sweep preset was given without -m; run `harness bench -m +sweep=NAME`")
    progress.start(len(points))
    return app.launch(argv)


def models(argv: list[str]) -> int:
    if not argv or argv[0] != "prepare":
        return _fail("usage: harness models prepare [model=NAME] [model.quant=Q,...]")
    from harness.config.plan import plan
    from harness.config.validate import ConfigError
    from harness.models import cache
    from harness.models.quantize import QuantizeError
    overrides = argv[1:]
    try:
        points = plan(overrides, multirun=True)
    except ConfigError as exc:
        return _fail(str(exc))
    seen: set[Path] = set()
    for cfg in points:
        try:
            path = cache.prepare(cfg.model)
        except (QuantizeError, OSError) as exc:
            return _fail(str(exc), 1)
        if path not in seen:
            seen.add(path)
            print(path, flush=True)
    return 0


def report(argv: list[str]) -> int:
    if not argv:
        return _fail("usage: harness report RUN_DIR [RUN_DIR ...]")
    from harness.report.report import write_report
    for arg in argv:
        run = Path(arg)
        if not (run / "results.csv").is_file():
            return _fail(f"no results.csv in {run}; give a run folder that `harness bench` wrote")
        print(write_report(run))
    return 0


def gate(argv: list[str]) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="harness gate", description="Fail on a real regression between two runs.")
    ap.add_argument("--baseline", required=True, help="run folder or results.csv")
    ap.add_argument("--current", required=True, help="run folder or results.csv")
    ap.add_argument("--metric", default="avg_ts", help="avg_ts (higher is better) or avg_ns")
    ap.add_argument("--threshold", type=float, default=0.05, help="relative change that counts (0.05 = 5%%)")
    ap.add_argument("--alpha", type=float, default=0.05, help="significance level of the Mann-Whitney U test")
    ap.add_argument("--ignore", nargs="*", default=[], help="configuration columns not to match on")
    try:
        a = ap.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    from harness.gate.checks import compare, load, summary
    if a.metric not in ("avg_ts", "avg_ns") or not 0 < a.threshold < 1 or not 0 < a.alpha < 1:
        return _fail(f"--metric {a.metric} --threshold {a.threshold} --alpha {a.alpha}: metric must be avg_ts or "
                     "avg_ns, threshold and alpha between 0 and 1")
    try:
        base, cur = load(Path(a.baseline)), load(Path(a.current))
    except FileNotFoundError as exc:
        return _fail(str(exc))
    checks = compare(base, cur, a.metric, a.threshold, a.alpha, tuple(a.ignore))
    print(summary(checks, a.threshold, a.alpha))
    return 1 if any(c.verdict == "regression" for c in checks) else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    cmd, rest = argv[0], argv[1:]
    handlers = {"bench": bench, "models": models, "report": report, "gate": gate}
    if cmd not in handlers:
        return _fail(f"unknown command {cmd!r}; choose one of: {', '.join(handlers)}")
    return handlers[cmd](rest)


if __name__ == "__main__":
    sys.exit(main())
