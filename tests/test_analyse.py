"""analysis.analyse as a whole: the progress hook, and bounded work on wide sweeps."""
from __future__ import annotations

import re

import pytest
from numpy.testing import assert_allclose

from sweepsight.analysis import analyse
from sweepsight.analysis.synthetic import make_table, standard_sweep

STAGES = ["prepare", "importance", "correlation", "linear", "forest", "significance", "levels",
          "scale check", "best estimate", "steering"]


def test_progress_is_called_after_each_stage_with_its_time():
    calls = []
    a = analyse(make_table(**standard_sweep(n_configs=30)), target="loss", n_jobs=1,
                progress=lambda stage, seconds: calls.append((stage, seconds)))
    assert [c[0] for c in calls] == STAGES == list(a.timings)
    assert [c[1] for c in calls] == [a.timings[s] for s in STAGES]
    assert all(s >= 0 for _, s in calls)


def _wide_prep(n_params: int, n_configs: int = 120, seeds: int = 2):
    from sweepsight.analysis.synthetic import Choice, Uniform

    params = {f"x{j:03d}": (Uniform(0.0, 1.0) if j % 3 else Choice(["a", "b", "c"]))
              for j in range(n_params)}
    from sweepsight.analysis.prepare import prepare

    table = make_table(params, effects={"x001": 1.0, "x002": 0.5}, n_configs=n_configs,
                       seeds=seeds, noise=0.2, target="loss", random_state=1)
    return prepare(table, target="loss")


def test_marginal_curves_in_batches_equal_one_batch():
    """Predicting the curves in small batches (bounded memory) gives the same curves."""
    from sklearn.ensemble import ExtraTreesRegressor

    from sweepsight.analysis.forest import param_columns
    from sweepsight.analysis.importance._surrogate import _marginals, value_grid

    prep = _wide_prep(12)
    groups = param_columns(prep)
    X, y = prep.X.to_numpy(float), prep.y.to_numpy(float)
    grids = {p: value_grid(X[:, idx], 10) for p, idx in groups.items()}
    model = ExtraTreesRegressor(n_estimators=10, random_state=0).fit(X, y)
    bg = X[:50]
    whole = _marginals(model, bg, groups, grids, max_cells=10**9)
    parts = _marginals(model, bg, groups, grids, max_cells=X.shape[1] * 60)
    assert list(whole) == list(parts) == list(groups)
    for p in groups:
        assert_allclose(parts[p], whole[p])


def test_many_parameters_shrink_the_background_and_say_so(monkeypatch):
    """Past the budget of predicted rows the surrogate averages over fewer background runs,
    flags it, and still finds the two real effects above the floor."""
    from sweepsight.analysis.importance import _surrogate as me
    from sweepsight.analysis.importance import get_param_importances

    prep = _wide_prep(30)
    monkeypatch.setattr(me, "MARGINAL_BUDGET", 30 * 20 * 40)  # ~40-60 background runs
    res = get_param_importances(prep, method="surrogate", n_jobs=1)
    assert me.SurrogateApprox.FEWER_BACKGROUND in res.approximations
    used = [int(m.group(1)) for s in res.notes
            if (m := re.search(r"average over (\d+) background runs instead of 256", s))]
    assert len(used) == 1 and 40 <= used[0] < 100
    table = res.table.set_index("param")
    assert table.loc["x001", "above_floor"] and table.loc["x002", "above_floor"]
    assert table["above_floor"].sum() <= 3


@pytest.mark.parametrize("n_params", [5])
def test_no_shrinking_below_the_budget(n_params):
    from sweepsight.analysis.importance import get_param_importances

    res = get_param_importances(_wide_prep(n_params), method="surrogate", n_jobs=1)
    assert res.approximations == []
