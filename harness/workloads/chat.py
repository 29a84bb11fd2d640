"""Chat requests in raw or Harmony mode, streamed, with the Harmony costs measured apart.

raw: the prompt text as given, tokenized, no template (the seed's fast path).
harmony: the conversation rendered by openai-harmony (system, developer, user) as token ids; each
token's channel is known as it streams (harmony/tracker.py) and openai-harmony's StreamableParser
parses the completion token by token when the stream ends (see tracker.py for why).
Prompts come from a data file in the repo (short and long, several languages).
"""
from __future__ import annotations

import collections
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from omegaconf import OmegaConf

from harness.backends.base import GenerateBackend, ServedBackend, StreamEvent, TextGenerateBackend
from harness.harmony import DEVIATIONS, STOP_TOKENS, HarmonyOptions, StreamParser, render_prompt, user
from harness.harmony.tracker import ChannelTracker
from harness.metrics import latency
from harness.models.vocab import RAW_STOPS, harmony_encoding

if TYPE_CHECKING:
    from harness.config.schema import BenchConfig

CHANNELS = ("analysis", "commentary", "final")


@dataclass(frozen=True)
class Prompt:
    id: str
    lang: str
    text: str

    @property
    def name(self) -> str:
        return self.id

    def columns(self) -> dict[str, Any]:
        return {"test": self.id, "n_depth": 0}


def load_prompts(path: str | None, limit: int = 0) -> list[Prompt]:
    src = Path(path).expanduser() if path else resources.files("harness") / "data" / "prompts" / "chat.jsonl"
    prompts = [Prompt(**json.loads(ln)) for ln in src.read_text().splitlines() if ln.strip()]
    return prompts[:limit] if limit else prompts


class ChatWorkload:
    def __init__(self, cfg: BenchConfig, backend: GenerateBackend | None) -> None:
        self.cfg, self.w, self.backend = cfg, cfg.workload, backend
        # a server's client: may take the text as given, reports the server's usage and timings
        self.served = backend if isinstance(backend, ServedBackend) else None
        self.harmony = cfg.mode == "harmony"
        if self.harmony:  # cfg.harmony is a DictConfig: its container is a dict
            self.options = HarmonyOptions(**cast("dict[str, Any]", OmegaConf.to_container(cfg.harmony, resolve=True)))
            if backend is not None:  # untimed: openai-harmony's first render sets itself up (~79 ms)
                render_prompt([user("warm-up")], self.options)

    def cases(self) -> list[Prompt]:
        return load_prompts(self.w.prompts, self.w.max_prompts)

    def _backend(self) -> GenerateBackend:
        if self.backend is None:
            raise RuntimeError("a chat workload planned without a backend cannot run")
        return self.backend

    def _render(self, prompt: Prompt) -> tuple[list[int] | str, int]:
        t0 = time.perf_counter_ns()
        tokens: list[int] | str
        if self.harmony:
            tokens = render_prompt([user(prompt.text)], self.options)
        elif self.served is not None and self.served.takes_text:
            tokens = prompt.text  # an OpenAI-compatible endpoint: the text as given
        else:
            tokens = self._backend().tokenize(prompt.text)
        return tokens, time.perf_counter_ns() - t0

    def _generate(self, prompt: list[int] | str, rep: int, stop: tuple[int, ...]) -> Iterator[StreamEvent]:
        backend, w = self._backend(), self.w
        if isinstance(prompt, str):  # only where the backend takes_text
            return cast(TextGenerateBackend, backend).generate(prompt, w.max_tokens, stop, w.temperature, w.seed + rep)
        return backend.generate(prompt, w.max_tokens, stop, w.temperature, w.seed + rep)

    def _request(self, prompt: Prompt, rep: int) -> dict[str, Any]:
        tokens, render_ns = self._render(prompt)
        tracker, parse_ns = None, 0
        channels: list[str | None] = []
        if self.harmony:
            tracker, stop = ChannelTracker(harmony_encoding()), STOP_TOKENS
        else:
            stop = RAW_STOPS
        times: list[int] = []
        ids: list[int | None] = []
        t0 = time.perf_counter_ns()
        for ev in self._generate(tokens, rep, stop):
            times.append(ev.t_ns)
            ids.append(ev.token)
            if tracker is not None:  # each token's channel, known as it streams
                p0 = time.perf_counter_ns()
                if ev.token is None:  # withheld by a server (ends inside a character): same message
                    channels.append(channels[-1] if channels else None)
                else:
                    pos = tracker.feed(ev.token)
                    channels.append(pos.channel if pos.in_content else None)
                parse_ns += time.perf_counter_ns() - p0
        t_end = time.perf_counter_ns()
        deviations: collections.Counter[str] = collections.Counter()
        if tracker is not None:  # messages and deviations: StreamParser, token by token, right after
            p0 = time.perf_counter_ns()
            parser = StreamParser()
            for token in ids:
                if token is not None:  # a server withholds a token that ends inside a character
                    parser.feed(token)
            parser.finish()
            parse_ns += time.perf_counter_ns() - p0
            deviations = parser.deviations
        r = latency.request(t0, times, t_end, channels if tracker is not None else None)
        served = self.served
        usage = served.last_usage if served is not None else {}
        r.update(prompt_tokens=len(tokens) if not isinstance(tokens, str) else usage.get("prompt_tokens", ""),
                 render_ms=render_ns * 1e-6, parse_ms=parse_ns * 1e-6,
                 server_timings=dict(served.last_timings) if served is not None else {},
                 stop_reason="stop" if (ids and ids[-1] in stop) or len(ids) < self.w.max_tokens else "length",
                 channels=collections.Counter(ch for ch in channels if ch), deviations=deviations)
        return r

    def run(self, case: Prompt) -> dict[str, Any]:
        reqs = [self._request(case, rep) for rep in range(self.w.repetitions)]
        n = len(reqs)
        row = {"status": "ok", **latency.aggregate(reqs),
               "n_prompt": reqs[0]["prompt_tokens"], "prompt_tokens": reqs[0]["prompt_tokens"],
               "n_gen": round(sum(r["completion_tokens"] for r in reqs) / n, 2),
               "render_ms": sum(r["render_ms"] for r in reqs) / n,
               "parse_ms": sum(r["parse_ms"] for r in reqs) / n,
               "stop_reason": collections.Counter(r["stop_reason"] for r in reqs).most_common(1)[0][0]}
        row["overhead_pct"] = 100 * (row["render_ms"] + row["parse_ms"]) / row["e2e_ms"]
        if any(r["server_timings"] for r in reqs):
            row.update(latency.server_rates([r["server_timings"] for r in reqs]))
        for ch in CHANNELS:
            row[f"tokens_{ch}"] = sum(r["channels"][ch] for r in reqs) / n
        total: collections.Counter[str] = sum((r["deviations"] for r in reqs), collections.Counter())
        row.update({f"dev_{k}": total.get(k, 0) for k in DEVIATIONS})
        row["_samples"] = {"requests": [{k: v for k, v in r.items() if k not in ("channels", "deviations")}
                                        | {"channels": dict(r["channels"]), "deviations": dict(r["deviations"])}
                                        for r in reqs]}
        return row
