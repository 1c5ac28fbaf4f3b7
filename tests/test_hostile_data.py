"""Hostile data, round three (issue 24, items 2 and 3), through the real command line where a
user meets it: a snapshot's credentials, MLflow's stored infinity, subnormal metrics,
hyperparameters named like JavaScript's ``Object.prototype`` members, invisible characters,
and names too long for a PR comment. Each case ends in a correct site with its note (or its
numbers), never in a silently wrong number. Inputs are generated (:mod:`tests.hostile_inputs`).
"""
from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from sweepsight import adapters
from sweepsight.adapters import snapshot
from sweepsight.adapters.redact import redact_json, redact_text
from sweepsight.analysis.importance import get_param_importances
from sweepsight.reports.safe_text import INVISIBLE, JOINER, cut_long, for_vega, visible
from tests.conftest import REPO
from tests.hostile_inputs import JS_NAMES, SECRETS, grid, planted_tiny, write_rows
from tests.test_hostile import CSV, load_and_prepare

NBCONVERT = ["--renderer", "nbconvert"] if shutil.which("quarto") else []


def _build(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """``python -m reports ARGS`` in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "reports", *args, *NBCONVERT], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


# --- 2. a snapshot's credentials are masked as it is read -----------------------------------------
@pytest.mark.parametrize("text, masked", [
    ("http://alice:pw@host:5000/x?token=abc", "http://***@host:5000/x?token=***"),
    ("fetched from https://bob:hunter2@h.example/api?key=k3y. Then",
     "fetched from https://***@h.example/api?key=***. Then"),
    ("sqlite:///mlflow.db and /a/path?b.csv", "sqlite:///mlflow.db and /a/path?b.csv"),
    ("no URI at all", "no URI at all"),
])
def test_redact_text(text, masked):
    assert redact_text(text) == masked


def test_redact_json_reaches_every_string():
    data = {"query": {"tracking_uri": "http://u:p4ss@h/", "filters": [{"x": "https://t@h?k=v"}]},
            "notes": ["see http://h/?token=zz9"], "http://k:ey@h": 1}
    assert json.dumps(redact_json(data)) == json.dumps(
        {"query": {"tracking_uri": "http://***@h/", "filters": [{"x": "https://***@h?k=***"}]},
         "notes": ["see http://h/?token=***"], "http://***@h": 1})


@pytest.fixture(scope="module")
def credential_site(tmp_path_factory):
    """A snapshot from "another tool" whose sweep.json holds credentials in its tracking URI, a
    query string and a note, re-rendered with ``--from-snapshot`` and compared with itself as
    ``--baseline``. Its metric is subnormal (:func:`tests.hostile_inputs.planted_tiny`): one
    build for both cases."""
    tmp = tmp_path_factory.mktemp("credential_site")
    table = adapters.load("csv", {"path": write_rows(tmp / "tiny.csv", *planted_tiny())})
    base = tmp / "artifact" / "sweep"
    snapshot.save(table, base)
    meta = json.loads(base.with_suffix(".json").read_text())
    meta["query"]["tracking_uri"] = f"http://alice:{SECRETS[0]}@tracker.example:5000/?token={SECRETS[1]}"
    meta["notes"].append(f"Fetched through https://bob:{SECRETS[2]}@proxy.example/api?key={SECRETS[3]}.")
    base.with_suffix(".json").write_text(json.dumps(meta))
    proc = _build("--from-snapshot", str(base), "--baseline", str(base), "--target", "val_acc",
                  "--out", str(tmp / "site"))
    return proc, tmp / "site"


def test_snapshot_credentials_are_not_republished(credential_site):
    proc, site = credential_site
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    files = [f for f in site.rglob("*") if f.is_file()]
    assert {"summary.md", "index.html", "comparison.html", "sweep.json"} <= {f.name for f in files}
    for f in files:  # pages, summary.md, the site's own snapshot, search.json under Quarto
        data = f.read_bytes()
        assert not [s for s in SECRETS if s.encode() in data], f.relative_to(site)
    assert not [s for s in SECRETS if s in proc.stdout + proc.stderr]
    summary = (site / "summary.md").read_text()
    # the URI is still said, masked (word joiners keep GitHub from autolinking it)
    assert "http://\\*\\*\\*@tracker.example:5000/?token=\\*\\*\\*" in summary.replace(JOINER, "")
    saved = json.loads((site / "data" / "sweep.json").read_text())
    assert saved["query"]["tracking_uri"] == "http://***@tracker.example:5000/?token=***"


# --- 3. MLflow stores infinity as ±DBL_MAX ----------------------------------------------------------
def test_mlflow_infinity_is_read_back_as_infinity(tmp_path):
    from tests.mlflow_helpers import T0, client_for, fast_dir, log_run

    values = [0.7, 0.8, math.inf, -math.inf, 0.75, 0.85]
    with fast_dir(tmp_path) as root:
        uri = f"sqlite:///{root / 'mlflow.db'}"
        client = client_for(uri)
        eid = client.create_experiment("inf")
        for i, acc in enumerate(values):
            log_run(client, eid, name=f"run-{i}", config={"lr": 10.0 ** -(i % 3 + 1)},
                    history=[{"acc": acc, "loss": math.inf if i == 1 else 1.0 - acc}], start=T0 + i)
        stored = client.search_runs([eid], order_by=["attributes.start_time ASC"])
        assert stored[2].data.metrics["acc"] == sys.float_info.max  # what MLflow made of inf
        table, prep = load_and_prepare(["--source", "mlflow", "--tracking-uri", uri,
                                        "--experiment", "inf", "--target", "acc"])
    acc = table.frame.set_index("name")["metrics.acc"]
    assert acc["run-2"] == math.inf and acc["run-3"] == -math.inf
    assert table.frame.set_index("name").at["run-1", "metrics.loss"] == math.inf
    assert not (table.frame.filter(like="metrics.").abs() == sys.float_info.max).any().any()
    assert any(re.fullmatch(r"5 metric value\(s\) of ±1\.7976931348623157e\+308, MLflow's stored "
                            r"form of infinity, read as ±inf \(acc: 2, loss: 3\)\.", n)
               for n in table.meta.notes), table.meta.notes
    # infinite targets are left out as such, and the finite ones analysed as logged
    assert sorted(prep.excluded["name"]) == ["run-2", "run-3"]
    assert prep.runs["y_raw"].abs().max() < 1


# --- 3. subnormal metrics ---------------------------------------------------------------------------
@pytest.mark.parametrize("scale", ["auto", "raw"])
def test_subnormal_metric_shows_its_planted_effect(tmp_path, scale):
    """val_acc around 1e-310 rises with lr (10x the seed noise): its squares underflowed to zero
    and "nothing rose above the noise floor"; analysed times 1e310 it is found, and said."""
    path = write_rows(tmp_path / "tiny.csv", *planted_tiny())
    table, prep = load_and_prepare(CSV + [str(path), "--target", "val_acc", "--metric-scale", scale])
    assert prep.scale.power == 311 and prep.metric_scale == "×1e311"
    assert any(n.startswith("Metric scale ×1e311: as logged") and "times 1e311" in n
               for n in prep.notes), prep.notes
    assert prep.runs["y_raw"].max() < 1e-309  # as logged is still as logged
    np.testing.assert_allclose(prep.runs["y"], prep.runs["y_raw"] * 1e300 * 1e11, rtol=1e-12)
    imp = get_param_importances(prep).table.set_index("param")
    assert bool(imp.at["lr", "above_floor"]) and not bool(imp.at["optimizer", "above_floor"])


def test_subnormal_metric_report_gives_intervals_as_logged(tmp_path):
    from sweepsight.analysis import analyse
    from sweepsight.analysis.findings import levels_of

    path = write_rows(tmp_path / "tiny.csv", *planted_tiny())
    result = analyse(adapters.load("csv", {"path": path}), target="val_acc", n_jobs=1)
    best = levels_of(result).get("lr").best_level
    assert 0 < best.ci_high_raw - best.ci_low_raw < 1e-311  # not the degenerate [m, m]
    top = result.significance.run_configs.iloc[0]
    assert 0 < top["std_raw"] < 1e-311


def test_subnormal_metric_site_through_the_cli(credential_site):
    proc, site = credential_site
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    summary = (site / "summary.md").read_text()
    findings = summary.split("## Findings", 1)[1].split("##", 1)[0]
    assert "**lr** matters most" in findings and "val\\_acc rises with it" in findings, findings
    assert "± 0 " not in summary and "ranked on the ×1e311 scale" in summary
    assert "Metric scale ×1e311: as logged" in (site / "index.html").read_text()


# --- 3. JavaScript property names and invisible characters: one site ------------------------------
@pytest.fixture(scope="module")
def js_names_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("js_names_site")
    header, rows = JS_NAMES
    path = write_rows(tmp / "js.csv", header, rows)
    proc = _build(*CSV, str(path), "--target", "acc", "--param", "__proto__",
                  "--out", str(tmp / "site"))
    return proc, tmp / "site"


def _specs(page: Path) -> list[dict]:
    return [json.loads(s) for s in re.findall(
        r'<script[^>]* id="[^"]+-spec"[^>]*>(.*?)</script>', page.read_text(), re.S)]


def test_js_names_site_builds_and_every_chart_compiles(js_names_site):
    import vl_convert

    proc, site = js_names_site
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    checked = 0
    for name in ("index.html", "correlation.html", "linear.html", "importance.html"):
        for spec in _specs(site / name):
            svg = vl_convert.vegalite_to_svg(spec)  # "Operator not defined" raised here
            assert re.search(r"<(path|rect|line)\b", svg), name
            checked += 1
    assert checked >= 6
    said = json.dumps(_specs(site / "index.html"), ensure_ascii=False)
    for js in ("constructor", "toString", "hasOwnProperty", "__proto__"):
        # the charts' text: another key to Vega, the same to a reader
        assert f'"{js}{JOINER}"' in said and f'"{js}"' not in said, js


def test_invisible_characters_are_shown(js_names_site):
    proc, site = js_names_site
    summary = (site / "summary.md").read_text()
    assert "l⟨U+200B⟩r" in summary and "⟨U+FEFF⟩lr" in summary
    for page in [*site.glob("*.html"), site / "summary.md"]:
        text = page.read_text().replace(JOINER, "")  # ours: they keep GitHub from acting
        assert not INVISIBLE.search(text), (page.name, INVISIBLE.search(text))
    assert "l⟨U+200B⟩r" in (site / "importance.html").read_text()


def _charts_draw(site: Path, pages: tuple[str, ...]) -> None:
    """Every page in headless Chromium: no console error, every embed drew, and each chart's
    Vega view (View API) logged no error and drew marks."""
    from tests.test_browser import CHROMIUM, Watched

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        try:
            for name in pages:
                watched = Watched(browser)
                watched.open(site / name)
                state = watched.chart_state()
                assert state["charts"] >= 1 and state["embeds"] == state["drawn"], (name, state)
                views = watched.page.evaluate(VIEWS_JS)
                assert views and all(v["errors"] == [] and v["marks"] > 0 for v in views), (name, views)
                assert watched.errors == [], (name, watched.errors)
                watched.page.close()
        finally:
            browser.close()


@pytest.mark.browser
def test_js_names_charts_draw_in_the_browser(js_names_site):
    _charts_draw(js_names_site[1], ("index.html", "correlation.html", "linear.html",
                                    "importance.html"))


@pytest.mark.browser
def test_subnormal_metric_charts_draw_in_the_browser(credential_site):
    """Vega's axis ticks failed on subnormal numbers ("Invalid array length"): the charts draw
    the metric times its power of ten, and say so in the axis title."""
    _charts_draw(credential_site[1], ("index.html", "importance.html", "comparison.html"))
    specs = json.dumps(_specs(credential_site[1] / "importance.html"), ensure_ascii=False)
    assert "val_acc (higher is better), ×1e311" in specs


#: Each chart spec of the page embedded once more by the page's own vegaEmbed with a logger
#: of ours, then read through the View API: the errors the view logged and the number of
#: items its marks drew.
VIEWS_JS = """async () => {
  const out = [];
  for (const s of document.querySelectorAll('script[id$="-spec"]')) {
    const errors = [];
    let level = 0;
    const logger = {level(l) { if (l === undefined) return level; level = l; return this; },
                    error(...a) { errors.push(a.map(String).join(' ')); return this; },
                    warn(...a) { errors.push('warn: ' + a.map(String).join(' ')); return this; },
                    info() { return this; }, debug() { return this; }};
    let marks = 0;
    const div = document.createElement('div');
    document.body.appendChild(div);
    try {
      const res = await vegaEmbed(div, JSON.parse(s.textContent),
                                  {actions: false, renderer: 'svg', logger});
      await res.view.runAsync();
      const walk = (node) => {
        if (node.marktype && node.marktype !== 'group') marks += (node.items || []).length;
        (node.items || []).forEach(walk);
      };
      walk(res.view.scenegraph().root);
      res.finalize();
    } catch (e) { errors.push(String(e)); }
    div.remove();
    out.push({id: s.id, errors, marks});
  }
  return out;
}"""


@pytest.mark.parametrize("raw, shown", [
    ("l\u200br", "l⟨U+200B⟩r"), ("\ufefflr", "⟨U+FEFF⟩lr"), ("l\u00adr", "l⟨U+00AD⟩r"),
    ("a\u200c\u200db", "a⟨U+200C⟩⟨U+200D⟩b"), ("w\u2060j", "w⟨U+2060⟩j"),
    ("tag\U000e0041", "tag⟨U+E0041⟩"), ("vs\ufe0f", "vs⟨U+FE0F⟩"), ("a\u202eb", "a⟨U+202E⟩b"),
    ("plain lr", "plain lr"),
])
def test_visible(raw, shown):
    assert visible(raw) == shown


def test_every_format_character_is_made_visible():
    import unicodedata

    missed = [f"U+{c:04X}" for c in range(0x110000)
              if unicodedata.category(chr(c)) == "Cf" and not INVISIBLE.fullmatch(chr(c))]
    assert missed == []


def test_for_vega():
    assert for_vega("constructor") == "constructor" + JOINER
    assert for_vega("toString") == "toString" + JOINER and for_vega("lr") == "lr"
    assert for_vega("constructor ") == "constructor "  # another key already


# --- 3. summary.md fits a PR comment ----------------------------------------------------------------
def test_cut_long():
    assert cut_long("a " + "x" * 500 + " b", word=10, whole=100) == "a xxxxxxxxx… b"
    assert cut_long("y " * 300, word=10, whole=100) == ("y " * 300)[:99] + "…"
    assert cut_long("short", word=10, whole=100) == "short"


def test_huge_name_summary_through_the_cli(tmp_path):
    """A 100,000-character hyperparameter name made a 303 KB summary.md: now shortened (…)."""
    huge = "h" * 100_000
    rows = [[r["run_id"], r["lr"], r["optimizer"], r["seed"], r["val_acc"]] for r in grid()]
    path = write_rows(tmp_path / "in.csv", ["run_id", f"params.{huge}", "params.optimizer",
                                            "params.seed", "metrics.val_acc"], rows)
    proc = _build(*CSV, str(path), "--target", "val_acc", "--out", str(tmp_path / "site"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = (tmp_path / "site" / "summary.md").read_text()
    assert len(summary) <= 65_536 and "h" * 150 + "…" in summary
    assert "h" * 200 not in summary


def _corpus():
    """Huge names and values: long words, long blank-separated texts, Markdown and HTML
    characters that escaping lengthens, invisible characters shown as 8 characters each."""
    from hypothesis import strategies as st

    pieces = st.sampled_from(["h", "a b ", "_|*", "\u200b", "@x #1 ", "<i>", "\u202e", "é"])
    return st.builds(lambda piece, n: piece * n, pieces, st.integers(2_000, 40_000))


@pytest.mark.filterwarnings("ignore")
def test_summary_fits_a_pr_comment_property():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from sweepsight.analysis import analyse
    from sweepsight.reports.summary import MAX_CHARS, summary_markdown

    @settings(max_examples=6, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(param=_corpus(), level=_corpus(), metric=_corpus(), run=_corpus(),
           extra=st.booleans())
    def fits(param, level, metric, run, extra):
        rng = np.random.default_rng(0)
        header = ["run_id", "name", f"params.{param}", "params.opt", f"metrics.{metric}"]
        if extra:
            header.insert(3, f"params.{param[::-1]}x")
        rows = []
        for i in range(12):
            a, opt = [1.0, 2.0, 4.0][i % 3], [level, "sgd"][i // 6]
            row = [f"r{i}", run + str(i), a, opt, a + (opt == "sgd") + rng.normal(0, 0.01)]
            if extra:
                row.insert(3, [level + "1", level + "2"][i % 2])
            rows.append(row)
        with tempfile.TemporaryDirectory() as tmp:
            table = adapters.load("csv", {"path": write_rows(Path(tmp) / "in.csv", header, rows)})
        result = analyse(table, target=metric, n_jobs=1)
        summary = summary_markdown(result, title=f"Sweep report: {metric} (in.csv)")
        assert len(summary) <= MAX_CHARS, len(summary)
        assert summary.startswith("# Sweep report: ")

    fits()


@pytest.mark.browser
def test_walk_follows_a_link_naming_js_property_names(tmp_path):
    """``significance.html#config=toString=a, l⟨U+200B⟩r=0.2``: a hyperparameter named
    ``constructor`` was "found" in the walk's plain object of the values the link gives (its
    prototype's constructor), so no configuration matched and the walk opened at the best."""
    from sweepsight.analysis import Analysis
    from sweepsight.analysis.options import AnalysisOptions
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.significance import compare_neighbours
    from sweepsight.analysis.synthetic import Choice, make_table
    from tests.test_browser import CHROMIUM, Watched, _walk_page

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package")
    sync_api = pytest.importorskip("playwright.sync_api")
    table = make_table({"constructor": Choice([1.0, 2.0, 3.0]), "toString": Choice(["a", "b"]),
                        "l\u200br": Choice([0.1, 0.2])},
                       effects={"constructor": {3.0: 1.0}}, grid=True, seeds=3, noise=0.1,
                       target="score", random_state=0)
    prep = prepare(table, target="score", direction="maximize")
    analysis = Analysis(table=table, prep=prep, correlation=None, linear=None, forest=None,
                        importance=None, significance=compare_neighbours(prep, n_boot=200),
                        options=AnalysisOptions(target="score", n_boot=200), timings={})
    page = _walk_page(analysis, tmp_path / "walk.html")  # with the site's offline Vega bundle
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        try:
            watched = Watched(browser)
            # the label as the page shows it ("+" written %2B: a hash reads "+" as a blank)
            watched.page.goto(page.as_uri() + "#config=toString=a, l⟨U%2B200B⟩r=0.2",
                              wait_until="load")
            watched.page.wait_for_function("() => document.querySelector('.sweepsight-walk')"
                                           ".dataset.ready", timeout=20_000)
            header = watched.page.inner_text(".walk-header")
            # the best configuration with those values (rank 1 is constructor=3, toString=b)
            assert "rank 3 of 12: constructor=3, l⟨U+200B⟩r=0.2, toString=a." in header, header
            assert "\u200b" not in watched.page.inner_text("main")
            assert watched.errors == []
        finally:
            browser.close()
