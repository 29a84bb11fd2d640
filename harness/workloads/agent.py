"""workload=agent: the task suite through the Harmony tool loop, verified, as result rows.

Each case is one trial of one task: a fresh workspace (the task's fixture and files), fresh tools,
a Session on the point's backend, the task's prompt; the outcome goes through the task's
verifiers. Rows: one per task x trial (level=trial), then `aggregate()` adds one per task
(level=task: success rate, pass@k and pass^k over the trials) and one for the suite (level=suite).
A harness or infrastructure error (the backend failed, a verifier crashed) is counted in
`infra_errors` and the trial is left out of success and pass@k: it is not the model's failure.
With python among the tasks' tools, the python tool's containment is checked when the workload
is built: where the program's files cannot be contained it refuses (UncontainedError, one line)
unless workload.unsafe_python=true; each trial row of a task with python records the level in
force (`python_containment`). For backend=replay/replay_http the workload also gives the backend
its script: the suite's recorded reference completions (replay_scripts).
"""
from __future__ import annotations

import collections
import json
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from omegaconf import OmegaConf

from harness.agent.session import Session, SessionResult
from harness.agent.toolbox import make_toolset
from harness.backends.replay import ReplayScripts
from harness.config.validate import ConfigError
from harness.harmony import DEVIATIONS, HarmonyOptions
from harness.metrics import agent as am
from harness.metrics.stats import mean
from harness.tasks.suite import Task, load_suite

if TYPE_CHECKING:
    from harness.config.schema import BenchConfig, WorkloadConfig

LEVELS = ("trial", "task", "suite")


def load_tasks(w: WorkloadConfig) -> list[Task]:
    """The tasks a workload config names: its suite folder (or the shipped one), filtered by ids."""
    tasks = load_suite(Path(w.suite).expanduser()) if w.suite else load_suite()
    return [t for t in tasks if t.id in set(w.tasks)] if w.tasks else tasks


def check_suite(cfg: Any) -> None:
    """Config validation's hook for workload=agent: the suite loads, workload.tasks names only its ids."""
    w = cfg.workload
    try:
        tasks = load_suite(Path(w.suite).expanduser()) if w.suite else load_suite()
    except (ValueError, OSError) as exc:  # TaskError, SpecError: one line naming file, key, value
        raise ConfigError(f"workload.suite: {exc}") from None
    known = {t.id for t in tasks}
    unknown = [t for t in w.tasks if t not in known]
    if unknown:
        raise ConfigError(f"workload.tasks: unknown task id {unknown[0]!r}; allowed: the suite's ids "
                          f"({', '.join(sorted(known)[:6])}, ... {len(known)} in all)")


def replay_scripts(w: WorkloadConfig) -> ReplayScripts:
    """The replay backends' script: each task's prompt -> its reference completions."""
    return ReplayScripts({t.prompt: t.reference for t in load_tasks(w) if t.reference})


@dataclass(frozen=True)
class AgentCase:
    task: Task
    trial: int

    @property
    def name(self) -> str:
        return f"{self.task.id}#{self.trial}"

    def columns(self) -> dict[str, Any]:
        return {"test": self.name, "level": "trial", "task_id": self.task.id, "trial": self.trial, "n_depth": 0}


class AgentWorkload:
    def __init__(self, cfg: BenchConfig, backend: Any) -> None:
        self.cfg, self.w, self.backend = cfg, cfg.workload, backend
        self.tasks = load_tasks(self.w)
        self.python_level = ""
        if backend is not None and any("python" in t.tools for t in self.tasks):
            from harness.agent.tools.python_tool import PythonTool
            self.python_level = PythonTool(timeout_s=self.w.python_timeout_s,
                                           unsafe=bool(self.w.unsafe_python)).level

    def cases(self) -> list[AgentCase]:
        return [AgentCase(t, i) for t in self.tasks for i in range(self.w.trials)]

    def _options(self, task: Task) -> HarmonyOptions:
        harmony = cast("dict[str, Any]", OmegaConf.to_container(self.cfg.harmony, resolve=True))  # a DictConfig
        opts = HarmonyOptions(**harmony)
        notes = [n for n in (opts.developer_instructions, task.developer) if n]
        opts.developer_instructions = "\n\n".join(notes) or None  # the session adds the tools' own
        return opts

    def _episode(self, task: Task, trial: int, ws: Path) -> tuple[SessionResult, Any, list[Any], float]:
        w = self.w
        corpus = Path(w.corpus).expanduser() if w.corpus else None
        toolset = make_toolset(task.tools, ws, corpus=corpus, python_timeout_s=w.python_timeout_s,
                               unsafe_python=bool(w.unsafe_python))
        session = Session(self.backend, toolset, self._options(task),
                          max_turns=w.max_turns or task.max_turns, max_tokens=w.max_tokens,
                          temperature=w.temperature, seed=w.seed + trial)
        t0 = time.perf_counter_ns()
        result = session.run(task.prompt)
        e2e_ms = (time.perf_counter_ns() - t0) * 1e-6
        outcome = session.outcome(result, ws)
        verdicts = [v.check(outcome, task) for v in task.verifiers]  # inside the workspace's lifetime
        return result, outcome, verdicts, e2e_ms

    def run(self, case: AgentCase) -> dict[str, Any]:
        task = case.task
        with tempfile.TemporaryDirectory(prefix=f"harness-agent-{task.id}-") as tmp:
            ws = task.prepare_workspace(Path(tmp) / "workspace")
            try:
                result, outcome, verdicts, e2e_ms = self._episode(task, case.trial, ws)
            except Exception as exc:  # a tool or verifier that crashed: the harness's error, not the model's
                return {"status": "ok", "success": 0, "infra_errors": 1, "stop_reason": "error",
                        "verdict": f"harness error: {type(exc).__name__}: {exc}"[:300]}
        infra = result.stop == "error"
        failed = [v.reason for v in verdicts if not v.passed]
        calls = [c.error for c in outcome.calls]
        counts = am.count_calls(calls)
        turns = result.turns
        dev = result.deviations
        latency = {k: v for k, v in am.episode_latency(turns).items()
                   if v == v or k not in am.CACHE_COLUMNS}  # the cache columns: only where a server says
        row: dict[str, Any]
        row = {"status": "ok", "success": int(not infra and not failed), "infra_errors": int(infra),
               "verdict": ((result.error or "") if infra else "; ".join(failed) or "pass")[:300],
               "stop_reason": result.stop, "turns": len(turns), "tool_calls": counts.total,
               "invalid_calls": sum(counts.by_kind.get(k, 0) for k in am.FORMAT_ERRORS),
               "valid_call_rate": counts.valid_rate,
               "call_errors": json.dumps({k: v for k, v in counts.by_kind.items() if v}, sort_keys=True),
               "prompt_tokens": sum(t.prompt_tokens for t in turns),
               "n_gen": sum(t.completion_tokens for t in turns),
               "model_ms": sum(t.model_ms for t in turns), "tool_ms": sum(t.tool_ms for t in turns),
               **latency, "e2e_ms": e2e_ms,
               **{f"dev_{k}": dev.get(k, 0) for k in DEVIATIONS},
               **({"python_containment": self.python_level} if "python" in task.tools else {})}
        row["_samples"] = {"task_id": task.id, "trial": case.trial, "final": outcome.final,
                           "verdicts": [{"passed": v.passed, "reason": v.reason} for v in verdicts],
                           "turns": [{**am.turn_latency(t), "completion_tokens": t.completion_tokens,
                                      "model_ms": t.model_ms, "tool_ms": t.tool_ms,
                                      "stop": t.stop, "deviations": dict(t.deviations),
                                      "calls": [{"recipient": c.message.recipient, "error": c.result.error,
                                                 "tool_ms": c.tool_ms} for c in t.calls]} for t in turns]}
        return row

    def aggregate(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Per-task rows (success, pass@k, pass^k over the trials) and one suite row."""
        by_task: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        for r in rows:
            if r.get("level") == "trial":
                by_task[r["task_id"]].append(r)
        out = [self._summary(task_id, "task", trials, [trials]) for task_id, trials in by_task.items()]
        if out:
            out.append(self._summary("suite", "suite", [r for ts in by_task.values() for r in ts],
                                     list(by_task.values())))
        return out

    def _summary(self, test: str, level: str, trials: list[dict[str, Any]],
                 groups: list[list[dict[str, Any]]]) -> dict[str, Any]:
        k = self.w.trials
        ok = [r for r in trials if r.get("status") == "ok"]
        judged = [[r for r in g if r.get("status") == "ok" and not r.get("infra_errors")] for g in groups]
        counts = [(len(g), sum(r["success"] for r in g)) for g in judged if g]
        full = [(n, c) for n, c in counts if n >= k]
        n_calls = sum(r.get("tool_calls", 0) for r in ok)
        invalid = sum(r.get("invalid_calls", 0) for r in ok)
        row: dict[str, Any] = {
            "test": test, "level": level, "task_id": test if level == "task" else "", "trial": "",
            "status": "ok" if ok else "failed", "trials": k,
            "success": mean([c / n for n, c in counts]) if counts else math.nan,
            "pass_at_1": am.mean_pass_at_k(counts, 1) if counts else math.nan,
            "pass_at_k": am.mean_pass_at_k(full, k) if full else math.nan,
            "pass_hat_k": am.mean_pass_hat_k(full, k) if full else math.nan,
            "infra_errors": sum(r.get("infra_errors", 0) for r in trials),
            "tool_calls": n_calls, "invalid_calls": invalid,
            "valid_call_rate": (n_calls - invalid) / n_calls if n_calls else math.nan,
            **{f"dev_{d}": sum(r.get(f"dev_{d}", 0) for r in ok) for d in DEVIATIONS}}
        for col in ("turns", "prompt_tokens", "n_gen", "model_ms", "tool_ms", "ttft_ms", "ttft_final_ms", "e2e_ms"):
            row[col] = mean([float(r[col]) for r in ok if col in r])
        for col in am.CACHE_COLUMNS:
            if any(col in r for r in ok):
                row[col] = mean([float(r[col]) for r in ok if col in r])
        return row
