"""A tiny stats object over repetition samples, the rates llama-bench reports, and the intervals
of every ratio and share the harness reports (one 95% z, one bootstrap of a ratio of means)."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile: a two-sided 95% interval
CV_LIMIT = 0.05  # a row whose repetitions' CV is above this is flagged unstable (table, report, compare, gate)


@dataclass(frozen=True)
class Stats:
    n: int
    mean: float
    stddev: float      # sample standard deviation (n-1), 0 for one sample
    min: float
    max: float
    median: float
    p90: float
    p99: float
    ci95: float        # half width of the 95% t-interval of the mean, 0 for one sample

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {prefix + k: v for k, v in asdict(self).items()}

    @property
    def cv(self) -> float:
        """The coefficient of variation, stddev / mean (nan without two samples or a positive mean)."""
        return self.stddev / self.mean if self.n > 1 and self.mean > 0 else math.nan


def cv(xs: Sequence[float]) -> float:
    """The coefficient of variation of repetition samples: sample stddev (n-1) / mean; nan for fewer
    than two samples or a mean that is not positive."""
    return describe(xs).cv


def mean(xs: Iterable[float]) -> float:
    """The mean of the values that are numbers (NaN left out); nan when none is."""
    a = [x for x in xs if x == x]
    return float(np.mean(a)) if a else math.nan


def describe(xs: Sequence[float]) -> Stats:
    a = np.asarray(xs, dtype=float)
    if a.size == 0:
        nan = math.nan
        return Stats(0, nan, nan, nan, nan, nan, nan, nan, nan)
    sd = float(a.std(ddof=1)) if a.size > 1 else 0.0
    ci = float(sps.t.ppf(0.975, a.size - 1) * sd / math.sqrt(a.size)) if a.size > 1 else 0.0
    return Stats(int(a.size), float(a.mean()), sd, float(a.min()), float(a.max()), float(np.median(a)),
                 float(np.percentile(a, 90)), float(np.percentile(a, 99)), ci)


def paired_ratio(ref: Sequence[float], ours: Sequence[float], resamples: int = 2000,
                 seed: int = 0) -> tuple[float, float, float]:
    """ours / ref over paired values (one pair a round): the geometric mean of the pairs' ratios and
    its 95% percentile-bootstrap interval over pairs. Drift that hits both of a pair alike cancels."""
    logs = np.log(np.asarray(ours, dtype=float) / np.asarray(ref, dtype=float))
    mid = float(np.exp(logs.mean()))
    if logs.size < 2:
        return mid, mid, mid
    ci = sps.bootstrap((logs,), np.mean, n_resamples=resamples, method="percentile",
                       random_state=np.random.default_rng(seed)).confidence_interval
    return mid, float(np.exp(ci.low)), float(np.exp(ci.high))


def rates(samples_ns: Sequence[int], n_tokens: int) -> list[float]:
    """Tokens per second of each repetition (llama-bench: n_tokens * 1e9 / t_ns)."""
    return [n_tokens * 1e9 / ns for ns in samples_ns]


def bench_columns(samples_ns: Sequence[int], n_tokens: int) -> dict[str, float]:
    """llama-bench's avg_ns, stddev_ns, avg_ts, stddev_ts (+ our ci95_ts, cv_ts) from the samples."""
    ns, ts = describe(samples_ns), describe(rates(samples_ns, n_tokens))
    return {"avg_ns": ns.mean, "stddev_ns": ns.stddev, "avg_ts": ts.mean, "stddev_ts": ts.stddev,
            "ci95_ts": ts.ci95, "cv_ts": ts.cv}


def share_interval(values: npt.ArrayLike) -> tuple[float, float, float]:
    """Mean of values in [0, 1] and its 95% interval: Wilson's for 0/1 outcomes (it stays inside
    [0, 1] and is sound for a handful of trials), the t-interval clipped to [0, 1] otherwise."""
    a = np.asarray(values, dtype=float)
    a = a[~np.isnan(a)]
    if a.size == 0:
        return math.nan, math.nan, math.nan
    p = float(a.mean())
    if np.isin(a, (0.0, 1.0)).all():
        z, n = Z95, a.size
        mid = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return p, max(0.0, mid - half), min(1.0, mid + half)
    ci = describe(a).ci95
    return p, max(0.0, p - ci), min(1.0, p + ci)


def ratio_ci(ref: Sequence[float], ours: Sequence[float], resamples: int = 2000,
             seed: int = 0) -> tuple[float, float]:
    """The 95% percentile-bootstrap interval of mean(ours) / mean(ref), each side resampled on its own
    (unpaired: for runs that did not run side by side); each side needs 2 or more values."""
    rng = np.random.default_rng(seed)
    sa, sb = np.asarray(ref, dtype=float), np.asarray(ours, dtype=float)
    ma = rng.choice(sa, (resamples, sa.size)).mean(axis=1)
    mb = rng.choice(sb, (resamples, sb.size)).mean(axis=1)
    lo, hi = np.percentile(mb / ma, [2.5, 97.5])
    return float(lo), float(hi)


def ratio_ci_from_spread(ref: float, ref_sd: float, ref_n: int, ours: float, ours_sd: float,
                         ours_n: int) -> tuple[float, float]:
    """The 95% interval of ours / ref from each side's mean, stddev and count: the stddevs propagated
    on the log scale (delta method), which keeps the interval positive."""
    r = ours / ref
    se_log = math.sqrt((ref_sd / ref) ** 2 / ref_n + (ours_sd / ours) ** 2 / ours_n)
    return r * math.exp(-Z95 * se_log), r * math.exp(Z95 * se_log)


def paired_by_round(ref: Sequence[Sequence[float]], ours: Sequence[Sequence[float]], resamples: int = 2000,
                    seed: int = 0, per_round: Callable[[Sequence[float]], float] = np.mean
                    ) -> tuple[float, float, float]:
    """paired_ratio over rounds: each arm's mean (or `per_round`, e.g. max: the fastest repetition) of
    its repetitions in a round, paired with the other arm's of the same round (they ran seconds apart,
    so drift between rounds cancels)."""
    return paired_ratio([float(per_round(r)) for r in ref], [float(per_round(o)) for o in ours], resamples, seed)


def fisher_drop(base_c: int, base_n: int, cur_c: int, cur_n: int) -> float:
    """One-sided p of Fisher's exact test that the current share of successes (cur_c of cur_n) is
    lower than the baseline's (base_c of base_n): exact on the counts, sound for a handful of trials."""
    table = np.array([[base_c, base_n - base_c], [cur_c, cur_n - cur_c]], dtype=np.int64)
    return float(sps.fisher_exact(table, alternative="greater").pvalue)


def prediction_interval(xs: Sequence[float], alpha: float) -> tuple[float, float]:
    """Where ONE new value of the normal sample xs falls: mean ± t(1 - alpha, n-1) * sd * sqrt(1 + 1/n),
    each limit passed with chance alpha (a one-sided test per side); it widens for a small n (n >= 2)."""
    d = describe(xs)
    half = float(sps.t.ppf(1 - alpha, d.n - 1)) * d.stddev * math.sqrt(1 + 1 / d.n)
    return d.mean - half, d.mean + half


def prediction_p(xs: Sequence[float], x: float) -> float:
    """One-sided p that ONE new value of the normal sample xs is as low as x or lower (the t prediction
    distribution above; for x's rise ask with the signs flipped). 0 or 1 when xs do not vary."""
    d = describe(xs)
    scale = d.stddev * math.sqrt(1 + 1 / d.n)
    if not scale > 0:
        return 0.0 if x < d.mean else 1.0
    return float(sps.t.cdf((x - d.mean) / scale, d.n - 1))
