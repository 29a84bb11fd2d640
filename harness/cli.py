"""`harness` console script: bench (Hydra entry point), models prepare, report.

    harness bench [-m] [--config-dir DIR] [hydra overrides...]
    harness models prepare [model=...] [model.quant=A,B ...]
    harness report RUN_DIR...
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.errors import fail, parse_args

USAGE = """usage: harness <command> [args]

commands:
  bench [-m] [overrides...]     run a benchmark point, or a sweep with -m (Hydra override grammar);
                                --config-dir DIR (or $HARNESS_CONFIG_DIR): your presets, searched first
  models prepare [overrides...] build the models a config names (if missing), print each GGUF path;
                                --pull downloads a missing gpt-oss-20b/120b GGUF from the hub
  models pull NAME|REPO/FILE    download gpt-oss-20b, gpt-oss-120b or any GGUF from the Hugging Face
                                Hub into the model cache (resumable, sha256-verified), print its path
  report RUN_DIR...             write report.md and figures/ (PNG, SVG) for finished runs; the job
                                shards at any depth below RUN_DIR (several hosts' sweeps) merge first;
                                --cv-limit CV flags rows whose repetitions vary more (default 0.05)
  gate --baseline B --current C fail (exit 1) on a significant regression or a missing point; 0 pass,
                                2 nothing matched or a usage error; also agent success and mean KLD;
                                --history DIR --window N: against the last N runs of DIR;
                                --against REF: REF's harness and this one benched in paired rounds
  history RUN_DIR...|DIR        each point's metric over the runs with the history gate's band
                                (history.png, history.md) [--out DIR] [--window N]
  compare RUN_DIR RUN_DIR...    side-by-side tables and figures, ratios to the first run [--out DIR]
  import-llama-bench FILE       llama-bench's json/jsonl/csv/md output as a run folder [--out RUN_DIR]
  infer [options] PROMPT        run a prompt on gpt-oss (raw or Harmony, with the local tools)
"""


def _fail(msg: str, code: int = 2) -> int:
    return fail("harness", msg, code)


def bench(argv: list[str]) -> int:
    from harness.config.plan import plan, take_config_dirs
    from harness.config.validate import ConfigError
    from harness.sweep import app, progress
    from harness.workloads import install_checks

    install_checks()  # plan() then also checks model files and the agent suite

    # resume=RUN_DIR always continues a sweep (a multirun) in that folder
    user_argv = list(argv)
    try:
        argv, config_dirs = take_config_dirs(argv)  # --config-dir/-cd DIR: the user's presets, searched first
    except ConfigError as exc:
        return _fail(str(exc))
    multirun = any(a in ("-m", "--multirun") or a.startswith("resume=") for a in argv)
    overrides = [a for a in argv if not a.startswith("-")]
    try:
        points = plan(overrides, multirun, config_dirs)
    except ConfigError as exc:
        return _fail(str(exc))
    if any(p.get("sweep") for p in points) and not multirun:
        return _fail("a sweep preset was given without -m; run `harness bench -m +sweep=NAME`")
    todo = len(points)
    if multirun:
        from harness.sweep import resume
        try:
            argv, todo = resume.prepare(argv, points)
        except ConfigError as exc:
            return _fail(str(exc))
    progress.start(todo)
    from harness.sweep.job import resolve_repack_once
    resolve_repack_once(points)  # here, before any launcher starts jobs that would each probe
    return app.launch(argv, user_argv)


def models(argv: list[str]) -> int:
    if argv and argv[0] == "pull":
        from harness.models.pull import main as pull_main
        return pull_main(argv[1:])
    if not argv or argv[0] != "prepare":
        return _fail("usage: harness models prepare [--pull] [model=NAME] [model.quant=Q,...] | "
                     "harness models pull NAME|REPO/FILE.gguf")
    from harness.config.plan import plan
    from harness.config.validate import ConfigError
    from harness.models import cache
    from harness.models.quantize import QuantizeError
    from harness.workloads import install_checks
    install_checks()  # a kind=file model's missing GGUF is a ConfigError of plan()
    overrides = [a for a in argv[1:] if a != "--pull"]
    try:
        points = plan(overrides, multirun=True)
    except ConfigError as exc:
        from harness.models.hub import PullError
        from harness.models.pull import pull_missing  # a real preset's file missing: pull it if --pull
        try:
            if not pull_missing(overrides, allowed="--pull" in argv[1:]):
                return _fail(str(exc))
            points = plan(overrides, multirun=True)
        except (ConfigError, PullError) as again:
            return _fail(str(again))
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
    ap = argparse.ArgumentParser(prog="harness report", description="report.md and figures of finished runs.")
    ap.add_argument("runs", nargs="*", help="run folders (or sweep folders of job shards)")
    _cv_limit_option(ap)
    a = _parse(ap, argv)
    if isinstance(a, int):
        return a
    if not a.runs:
        return _fail("usage: harness report RUN_DIR [RUN_DIR ...] [--cv-limit CV]")
    from harness.records import merge
    from harness.report.report import write_report
    for arg in a.runs:
        run = Path(arg)
        if merge.shards(run):  # job shards below it, e.g. several hosts' sweep folders copied in
            merge.merge(run)
        if not (run / "results.csv").is_file():
            return _fail(f"no results.csv in {run}; give a run folder that `harness bench` wrote")
        print(write_report(run, a.cv_limit))
    return 0


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text}: give a share above 0, e.g. 0.05 for 5%")
    return value


def _cv_limit_option(ap: argparse.ArgumentParser) -> None:
    from harness.metrics.stats import CV_LIMIT
    ap.add_argument("--cv-limit", type=_share, default=CV_LIMIT,
                    help="flag a row as unstable above this CV of its repetitions (default %(default)s = 5%%)")


def gate(argv: list[str]) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="harness gate", description="Fail on a real regression between two runs.")
    ap.add_argument("--baseline", help="run folder or results.csv")
    ap.add_argument("--current", help="run folder or results.csv")
    ap.add_argument("--metric", default="avg_ts",
                    help="avg_ts (mean t/s), best_ts (fastest repetition's t/s) or avg_ns (lower is better)")
    ap.add_argument("--threshold", type=float, help="relative change that counts (default 0.05 = 5%%; "
                    "--against: 0.02)")
    ap.add_argument("--threshold-for", action="append", default=[], metavar="TEST=VALUE",
                    help="a threshold of its own for tests whose name starts with TEST (tg=0.35: tg128, ...)")
    ap.add_argument("--alpha", type=float, default=0.05, help="significance level of the Mann-Whitney U test")
    _cv_limit_option(ap)
    ap.add_argument("--ignore", nargs="*", default=[], help="configuration columns not to match on")
    ap.add_argument("--allow-missing", action="store_true",
                    help="pass although points of the baseline are missing from the current run")
    ap.add_argument("--any-machine", action="store_true",
                    help="gate even when the runs come from different machine classes")
    _gate_more_options(ap)
    a = _parse(ap, argv)
    if isinstance(a, int):
        return a
    mode = _gate_mode(a)
    if isinstance(mode, int):
        return mode
    from harness.gate.checks import NothingMatched, check_matched, compare, failed, load, summary
    from harness.gate.machine import machine_class, run_env
    base_env, cur_env = run_env(Path(a.baseline or a.current)), run_env(Path(a.current))
    if not a.any_machine and base_env and cur_env and machine_class(base_env) != machine_class(cur_env):
        print(f"gate: skipped: the baseline is from a {machine_class(base_env)} machine, the current run from a "
              f"{machine_class(cur_env)} one; their speeds do not compare (--any-machine gates anyway)")
        return 0
    from harness.gate.checks import METRICS
    if a.metric not in METRICS or not 0 < a.threshold < 1 or not 0 < a.alpha < 1:
        return _fail(f"--metric {a.metric} --threshold {a.threshold} --alpha {a.alpha}: metric must be one of "
                     f"{', '.join(METRICS)}, threshold and alpha between 0 and 1")
    per_test = {}
    for item in a.threshold_for:
        test, _, text = item.partition("=")
        try:
            value = float(text)
        except ValueError:
            value = None
        if not test or value is None or not 0 < value < 1:
            return _fail(f"--threshold-for {item}: give TEST=VALUE with VALUE between 0 and 1, e.g. tg=0.35")
        per_test[test] = value
    from harness.gate.history import history_checks, past_runs
    from harness.gate.quality import floor_checks, quality_checks, speed_rows
    try:
        cur = load(Path(a.current))
        past = past_runs(Path(a.history), Path(a.current), a.window) if a.history else []
        base = load(Path(a.baseline)) if a.baseline else cur.iloc[0:0]
    except FileNotFoundError as exc:
        return _fail(str(exc))
    checks = floor_checks(cur, a.min_success) if a.min_success is not None else []
    if a.history:
        checks += history_checks(past, cur, a.metric, a.window, a.alpha,
                                 {a.metric: a.threshold, "kld_mean": a.kld_threshold})
    elif a.baseline:
        checks += compare(speed_rows(base, a.metric), speed_rows(cur, a.metric), a.metric, a.threshold, a.alpha,
                          tuple(a.ignore), per_test, a.cv_limit) + quality_checks(base, cur, a.alpha, a.kld_threshold)
    try:
        if a.baseline:
            check_matched(checks, base, cur, tuple(a.ignore))
        elif not any(c.verdict not in ("new", "missing") for c in checks):
            raise NothingMatched(f"gate: nothing was judged: {_nothing_judged(a)}")
    except NothingMatched as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(summary(checks, a.threshold, a.alpha, per_test, a.allow_missing, a.cv_limit))
    return 1 if failed(checks, a.allow_missing) else 0


def _gate_more_options(ap: argparse.ArgumentParser) -> None:
    """The gate's quality, history and paired options (docs/BENCHMARKS.md, "Regression gate")."""
    ap.add_argument("--min-success", type=float, help="fail when an agent suite row of the current run scores "
                    "below this share (1 = 100%%: the replay policy); with no baseline, gate on it alone")
    ap.add_argument("--kld-threshold", type=float, default=0.10,
                    help="relative rise of kld_mean (workload=kld rows) that fails (default %(default)s)")
    ap.add_argument("--history", help="a folder of earlier runs: gate against the last --window of them")
    ap.add_argument("--window", type=int, default=10, help="runs of --history to judge against (default 10)")
    ap.add_argument("--against", metavar="REF", help="paired gate: bench git ref REF's harness and this one in "
                    "interleaved rounds here and judge the paired ratio (no --baseline/--current)")
    from harness.sweep.paired import ROUNDS
    ap.add_argument("--rounds", type=int, default=ROUNDS, help="--against: rounds of both arms (default %(default)s)")
    ap.add_argument("--out", help="--against: keep each round's samples (rounds.jsonl) and the arms' logs here")
    ap.add_argument("overrides", nargs="*", help="--against: bench overrides on top of its small default point")


def _nothing_judged(a: argparse.Namespace) -> str:
    from harness.gate.history import MIN_HISTORY
    if a.history:
        return (f"no point of {a.current} has {MIN_HISTORY} or more earlier values in the last {a.window} runs "
                f"of {a.history}")
    return f"{a.current} has no agent suite row for --min-success"


def _gate_mode(a: argparse.Namespace) -> int | None:
    """Run the paired gate (its exit status) or check the options of the others (2 when wrong, else None)."""
    if a.against:
        if a.baseline or a.current or a.history or a.rounds < 2:
            return _fail(f"--against {a.against} --rounds {a.rounds}: give 2 or more rounds and no --baseline, "
                         "--current or --history (the paired gate benches both sides itself)")
        from harness.gate.paired import THRESHOLD
        from harness.sweep.paired import gate_against
        return gate_against(a.against, a.rounds, THRESHOLD if a.threshold is None else a.threshold, a.overrides,
                            Path(a.out) if a.out else None)
    if a.overrides:
        return _fail(f"{' '.join(a.overrides)}: bench overrides go with --against REF only")
    if not a.current or (a.baseline is None) + (a.history is None) + (a.min_success is None) == 3 \
            or (a.baseline and a.history):
        return _fail("give --current RUN with one of --baseline RUN, --history DIR (or --min-success alone), "
                     "or --against REF")
    from harness.gate.history import MIN_HISTORY
    if a.window < MIN_HISTORY or a.kld_threshold <= 0 or (a.min_success is not None and not 0 <= a.min_success <= 1):
        return _fail(f"--window {a.window} --kld-threshold {a.kld_threshold} --min-success {a.min_success}: the "
                     f"window holds {MIN_HISTORY} or more runs, the KLD threshold is above 0, the floor in [0, 1]")
    if a.threshold is None:
        a.threshold = 0.05
    return None


def history(argv: list[str]) -> int:
    from harness.gate.history_plot import main as history_main
    return history_main(argv)


def infer(argv: list[str]) -> int:
    from harness.agent.infer import main as infer_main
    return infer_main(argv)


def _parse(ap: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    """argparse's namespace, or the exit code it wanted (a usage error: 2, said in one line)."""
    return parse_args(ap, argv, "harness")


def compare(argv: list[str]) -> int:
    import argparse
    import time
    ap = argparse.ArgumentParser(prog="harness compare", description="Runs side by side on their shared points.")
    ap.add_argument("runs", nargs="*", help="run folders (or sweep folders of job shards), the first is the reference")
    ap.add_argument("--out", help="folder for compare.md and figures/ (default ./compare-<time>)")
    ap.add_argument("--ignore", nargs="*", default=[], help="configuration columns not to match on")
    ap.add_argument("--mem-bw", action="append", default=[], metavar="[RUN_DIR=]GBS",
                    help="memory bandwidth for the roofline (a GPU's), for every run or one")
    _cv_limit_option(ap)
    a = _parse(ap, argv)
    if isinstance(a, int):
        return a
    from harness.report.compare import write
    from harness.report.compare_join import CompareError
    out = Path(a.out or f"compare-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        print(write([Path(r) for r in a.runs], out, tuple(a.ignore), a.mem_bw, a.cv_limit))
    except (CompareError, FileNotFoundError) as exc:
        return _fail(str(exc))
    print(f"wrote {out / 'compare.md'}", file=sys.stderr)
    return 0


def import_llama_bench(argv: list[str]) -> int:
    import argparse
    import time
    ap = argparse.ArgumentParser(prog="harness import-llama-bench",
                                 description="llama-bench output (-o json, jsonl, csv or md) as a run folder.")
    ap.add_argument("file")
    ap.add_argument("--out", help="run folder to write (default results/llama-bench-<file>-<time>)")
    ap.add_argument("--model-name", help="model_name for the rows (default: from the file name or model type)")
    a = _parse(ap, argv)
    if isinstance(a, int):
        return a
    from harness.report.import_llama_bench import LlamaBenchFormatError, import_file
    from harness.report.table import markdown_file
    src = Path(a.file)
    out = Path(a.out or f"results/llama-bench-{src.stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        run = import_file(src, out, a.model_name)
    except LlamaBenchFormatError as exc:
        return _fail(f"{src}: {exc}")
    print(markdown_file(run / "results.csv"))
    print(f"wrote {run}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    cmd, rest = argv[0], argv[1:]
    handlers = {"bench": bench, "models": models, "report": report, "gate": gate, "compare": compare,
                "import-llama-bench": import_llama_bench, "infer": infer, "history": history}
    if cmd not in handlers:
        return _fail(f"unknown command {cmd!r}; choose one of: {', '.join(handlers)}")
    try:
        return handlers[cmd](rest)
    except KeyboardInterrupt:  # Ctrl-C outside a sweep (a sweep says more itself): no traceback
        print(f"\nharness: {cmd} interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
