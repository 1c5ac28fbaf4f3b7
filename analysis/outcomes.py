"""Columns that are outcomes of a run (runtime, memory, the last step), not choices made for it.

Two rules, each a typed reason: the name says so (:func:`named_outcome`), or the values do
(:func:`varies_like_an_outcome`: a different value in almost every run while the other
hyperparameters repeat under different seeds). Either is overridden by naming the column
with ``--param``.
"""
from __future__ import annotations

import re

import pandas as pd

from sweepsight.analysis.grouping import n_groups

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
#: A last word that names a measurement of the run.
OUTCOME_WORDS = {
    "runtime", "duration", "time", "elapsed", "walltime", "wallclock", "memory", "mem", "rss",
    "vram", "throughput", "fps", "timestamp",
}
#: A last word that is a unit of time (``runtime_s``, ``train_sec``, ``epoch_time_ms``).
TIME_UNITS = {"s", "sec", "secs", "second", "seconds", "ms", "msec", "min", "mins", "minute",
              "minutes", "hr", "hrs", "hour", "hours"}
#: Exactly these last words, as written (singular): the step or epoch a run ended at. The
#: plural (``epochs``, ``steps``) is usually the setting.
END_COUNTERS = {"step", "epoch"}
#: Words before the last that make the column a setting: ``max_time``, ``warmup_steps``,
#: ``time_budget_s``, ``lr_decay_epoch``, ``eval_every_step``.
SETTING_WORDS = {
    "max", "min", "num", "n", "warmup", "limit", "budget", "patience", "every", "interval",
    "freq", "frequency", "decay", "timeout", "eval", "save", "log", "checkpoint", "ckpt",
    "schedule", "target", "start", "stop", "cooldown", "anneal",
}
#: Share of runs with a distinct value above which a numeric column "varies in almost every run".
DISTINCT_SHARE = 0.9
MIN_RUNS = 10


def named_outcome(name: str) -> bool:
    """Whether the name (its last dotted part) says it is a measurement of the run."""
    last = name.split(".")[-1].split("/")[-1]
    raw = _WORD.findall(last)
    words = [w.lower() for w in raw]
    if not words or SETTING_WORDS & set(words[:-1]):
        return False
    end = words[-1]
    if end in END_COUNTERS:
        return last.lower().lstrip("_") in END_COUNTERS or words[-2:-1] in (["global"], ["last"],
                                                                           ["final"], ["best"])
    if end in TIME_UNITS:
        return len(words) > 1  # a bare "s" or "min" is no name for a measurement
    return end in OUTCOME_WORDS or (end.endswith("time") and end != "time" and len(end) > 6)


def varies_like_an_outcome(values: pd.Series, others: dict[str, pd.Series], *,
                           seed: pd.Series | None) -> bool:
    """A numeric column with a different value in almost every run although the other
    hyperparameters and the seed already tell every run apart, with each configuration of the
    others run under several seeds: it then differs between seeds of one configuration, which
    a choice made for the run cannot. Without a seed column nothing is claimed (a random
    search's one continuous knob beside a few categorical ones looks the same)."""
    if seed is None or seed.nunique() < 2 or not others or not nearly_distinct(values):
        return False
    return others_repeat_under_seeds([v.to_numpy() for v in others.values()], seed.to_numpy())


def nearly_distinct(values: pd.Series) -> bool:
    """At least :data:`MIN_RUNS` present values, and a different one in almost every run."""
    present = values.dropna()
    n = len(present)
    return n >= MIN_RUNS and present.nunique() >= DISTINCT_SHARE * n


def others_repeat_under_seeds(columns: list, seed) -> bool:
    """The rows of ``columns`` (the other hyperparameters) repeat (at most half as many
    combinations as rows), and with the ``seed`` they tell almost every row apart."""
    rows = len(columns[0])
    if n_groups(columns) > rows / 2:  # the other hyperparameters do not repeat
        return False
    return n_groups([*columns, seed]) >= DISTINCT_SHARE * rows


def is_number(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)

