"""The overview's main findings on small hand-made sweeps whose answer is known."""
from __future__ import annotations

import numpy as np
import pandas as pd

from sweepsight.adapters.schema import build_table
from sweepsight.analysis import analyse
from sweepsight.reports import text
from sweepsight.reports.summary import summary_markdown


def _table(rows: list[tuple[dict, list[float]]]):
    """One run per value: ``rows`` are (params, per-seed val_acc values)."""
    out = []
    for i, (params, values) in enumerate(rows):
        for s, v in enumerate(values):
            out.append({"run_id": f"r{i}-{s}", "name": f"r{i}-{s}", "state": "finished",
                        **{f"params.{k}": val for k, val in params.items()},
                        "params.seed": s, "metrics.val_acc": v})
    return build_table(pd.DataFrame(out), source="csv", seed="seed")


def test_best_configuration_without_neighbours_is_not_called_all_worse():
    rng = np.random.default_rng(0)
    table = _table([({"lr": 1, "opt": "a"}, list(0.5 + rng.normal(0, 0.01, 3))),
                    ({"lr": 2, "opt": "a"}, list(0.6 + rng.normal(0, 0.01, 3))),
                    ({"lr": 3, "opt": "b"}, list(0.9 + rng.normal(0, 0.01, 3)))])
    out = text.findings(analyse(table, target="val_acc", n_jobs=1))
    assert "The best configuration has no neighbours" in out
    assert "All 0" not in out


def test_a_lucky_single_run_is_paired_with_the_best_replicated_configuration():
    rng = np.random.default_rng(1)
    rows = [({"lr": lr}, list(0.5 + 0.1 * lr + rng.normal(0, 0.01, 4))) for lr in (1, 2, 3)]
    rows.append(({"lr": 4}, [0.99]))  # one run, best by luck
    result = analyse(_table(rows), target="val_acc", n_jobs=1)
    out = text.findings(result)
    assert "Best configuration: **lr=4** with val\\_acc 0.99 over 1 run." in out
    assert "the best with at least 4 runs (the median) is **lr=3**" in out
    # findings only from tests that ran: a single-run best has no tested neighbour
    assert "has 1 run, so its one neighbour could not be tested" in out
    for said in (out, text.significance_summary(result), summary_markdown(result, title="t")):
        assert "0 significantly worse" not in said and "0 are" not in said
        assert "see their intervals" not in said


def test_a_categorical_level_reads_as_against_its_other_levels():
    rng = np.random.default_rng(2)
    rows = [({"opt": o, "lr": lr}, list((0.8 if o == "adam" else 0.6) + rng.normal(0, 0.01, 3)))
            for o in ("adam", "sgd") for lr in (1, 2, 3)]
    out = text.findings(analyse(_table(rows), target="val_acc", n_jobs=1))
    assert "**opt** matters most" in out and "best at adam (of 2 levels)" in out
    assert "higher opt" not in out and "Spearman" not in out


def test_no_lucky_winner_claim_when_most_configurations_ran_once():
    from sweepsight.analysis.configs import replicated_best

    configs = pd.DataFrame({"label": list("abcd"), "n": [1, 1, 1, 9], "mean": [0.9, 0.8, 0.7, 0.6]})
    assert replicated_best(configs) is None  # the median is 1: the best is not unusual
