"""Full builds of small synthetic sweeps with the real pipeline, and what the site must hold:
every page, one shared Vega bundle, nothing remote, run-derived text escaped, a consistent
Quarto configuration, a summary.md that GitHub can show."""
from __future__ import annotations

import dataclasses
import html
import os
import re
import shutil
import stat
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from sweepsight.adapters import snapshot
from sweepsight.reports import build, render, summary
from tests.conftest import PIPE_NAME, SCRIPT_NAME

PAGE_FILES = [f"{p.stem}.html" for p in build.PAGES]


class Resources(HTMLParser):
    """Every URL a page would fetch by itself (scripts, styles, images, frames) and its text."""

    FETCHING = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
                ("source", "src"), ("embed", "src"), ("object", "data"), ("audio", "src"),
                ("video", "src")}

    def __init__(self):
        super().__init__()
        self.fetched: list[str] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if (tag, name) in self.FETCHING and value:
                self.fetched.append(value)
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def parse(path: Path) -> Resources:
    parser = Resources()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def page_text(path: Path) -> str:
    return " ".join(" ".join(parse(path).text).split())


def test_the_site_has_every_page_the_bundle_the_snapshot_and_the_summaries(built_site):
    site = built_site.site
    for name in PAGE_FILES + ["summary.md", "report.html", "assets/vega-bundle.js",
                              "data/sweep.parquet", "data/sweep.json", build.SITE_MARKER]:
        assert (site / name).is_file(), name
    # every stage says how long it took, each page too: nothing runs silently for long
    for stage in ("load", "check", "snapshot", "analysis", "pages",
                  "bundle", "render", "summary", "swap",
                  *(f"  page {p.stem}" for p in build.PAGES)):
        assert re.search(rf"^\[\s*\d+\.\d\d s\] {stage}\b", built_site.stdout, flags=re.M), stage
    if not shutil.which("quarto"):
        assert render.QUARTO_MISSING in built_site.stdout
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(site.stat().st_mode) == 0o777 & ~umask  # not mkdtemp's private 0700
    # nothing half-built left next to the site
    assert [p.name for p in site.parent.iterdir() if p.name.startswith(".site.")] == []


def test_the_built_site_has_the_next_sweep_page_its_files_and_section(built_site):
    from sweepsight.reports import next_files

    site = built_site.site
    assert (site / "next.html").exists()
    for name in (next_files.WANDB_FILE, next_files.OPTUNA_FILE, next_files.CONFIGS_FILE):
        assert (site / "next" / name).stat().st_size > 0
    summary = (site / "summary.md").read_text()
    section = summary.split("## Next sweep")[1].split("\n## ")[0].strip().splitlines()
    assert len(section) + 1 <= 15
    page = (site / "next.html").read_text()
    assert "extend upward" in page  # val_acc rises with depth up to the largest tried, 8


def test_the_snapshot_reloads_as_the_same_runs(built_site):
    table = snapshot.load(built_site.site / "data" / "sweep")
    frame = pd.read_csv(built_site.csv)
    assert len(table.frame) == len(frame) == 73
    assert set(table.metrics) == {"val_acc", "val_loss", "delta"}
    assert SCRIPT_NAME in set(table.frame["name"])


def test_every_page_links_to_every_other_page(built_site):
    for name in PAGE_FILES:
        hrefs = re.findall(r'<nav class="sweepsight-nav">.*?</nav>',
                           (built_site.site / name).read_text(encoding="utf-8"), flags=re.S)
        assert len(hrefs) == 1, name
        links = re.findall(r'href="([^"]+)"', hrefs[0])
        assert links == PAGE_FILES, name


def test_nothing_is_fetched_from_the_network(built_site):
    for name in PAGE_FILES + ["report.html"]:
        path = built_site.site / name
        fetched = parse(path).fetched
        remote = [u for u in fetched if re.match(r"^(https?:)?//", u.strip(), flags=re.I)]
        assert remote == [], (name, remote)
        for url in fetched:  # local files the page loads exist in the site
            assert (path.parent / url).is_file(), (name, url)
        css_urls = re.findall(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", path.read_text(encoding="utf-8"))
        assert css_urls == [], (name, css_urls)


def test_the_vega_bundle_ships_once_and_every_page_uses_it(built_site):
    bundle = (built_site.site / "assets" / "vega-bundle.js").read_text(encoding="utf-8")
    assert "window.vegaEmbed=" in bundle.replace(" ", "")
    n_charts = 0
    for name in PAGE_FILES:
        text = (built_site.site / name).read_text(encoding="utf-8")
        assert parse(built_site.site / name).fetched.count("assets/vega-bundle.js") == 1, name
        assert "window.vegaEmbed=" not in text.replace(" ", ""), f"{name} inlines the bundle"
        n_charts += text.count('class="sweepsight-chart"')
    assert n_charts >= 5, "the pages show charts through reports.render.show"
    single = (built_site.site / "report.html").read_text(encoding="utf-8")
    assert parse(built_site.site / "report.html").fetched == []
    assert single.count('class="sweepsight-chart"') == n_charts
    assert len(single) < len(bundle) + 10 * sum(
        len((built_site.site / n).read_text(encoding="utf-8")) for n in PAGE_FILES)


def test_every_chart_spec_is_valid_vega_lite(built_site):
    """The build skips Altair's schema validation of each finished chart (a fifth of the page
    time); every spec the pages embed is validated here against Vega-Lite's schema instead."""
    import json

    import importlib

    import altair as alt
    from altair.utils.schemapi import validate_jsonschema

    major = alt.SCHEMA_VERSION.split(".")[0]  # "v6" (Altair 6) or "v5" (Altair 5)
    schema = importlib.import_module(f"altair.vegalite.{major}.schema.core").load_schema()
    specs = []
    for name in PAGE_FILES:
        text = (built_site.site / name).read_text(encoding="utf-8")
        specs += [json.loads(s) for s in re.findall(r'id="sweepsight-chart-[0-9a-f]+-spec"[^>]*>(.*?)</script>',
                                                  text, flags=re.S)]
    assert len(specs) >= 6  # every page but the comparison (no baseline) has a chart
    for spec in specs:
        validate_jsonschema(spec, schema)  # raises on the first invalid part


def test_run_derived_text_is_escaped_everywhere(built_site):
    files = [built_site.site / n for n in PAGE_FILES + ["report.html", "summary.md"]]
    for path in files:
        raw = path.read_text(encoding="utf-8")
        assert SCRIPT_NAME not in raw, f"{path.name} holds the run name as markup"
        assert "<b>sweep</b>" not in raw, f"{path.name} holds the title as markup"
    # ... and the run still shows, as text, where runs are listed
    as_json = SCRIPT_NAME.replace("<", "\\u003c").replace(">", "\\u003e")
    assert SCRIPT_NAME in page_text(built_site.site / "index.html")  # runs left out, as text
    assert any(as_json in p.read_text(encoding="utf-8") for p in files[:-1])  # chart data
    assert "Synthetic <b>sweep</b>" in page_text(built_site.site / "index.html")


def _cells(line: str) -> int:
    """Number of cells of a GFM table row (``\\|`` does not split a cell)."""
    body = line.strip()
    assert body.startswith("|") and body.endswith("|"), line
    return len(re.split(r"(?<!\\)\|", body[1:-1]))


def assert_gfm_tables_consistent(text: str) -> int:
    tables, current = 0, []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
            continue
        if current:
            assert len(current) >= 2 and re.fullmatch(r"\|(-+\|)+", current[1]), current[:2]
            widths = {_cells(row) for row in current}
            assert len(widths) == 1, current
            tables += 1
            current = []
    return tables


def test_summary_md_is_valid_gfm_and_names_the_known_effects(built_site):
    text = (built_site.site / "summary.md").read_text(encoding="utf-8")
    assert len(text) < summary.MAX_CHARS
    assert assert_gfm_tables_consistent(text) >= 2
    headings = re.findall(r"^## .+$", text, flags=re.M)
    assert headings == ["## Findings", "## Hyperparameters",
                        "## The best configuration against its neighbours", "## Next sweep",
                        "## The sweep in numbers", "## Notes and caveats"]
    ranking = re.findall(r"^\| (\d+) \| (\S+) \|", text, flags=re.M)
    assert ranking[0] == ("1", "lr"), ranking  # the quadratic lr effect dominates by design
    assert "| runs | 73 (72 analysed, 1 left out) |" in text
    assert "| configurations | 24 " in text
    assert "depth=8" in text and "optimizer=adam" in text  # the best configuration
    # 3 vs 3 seeds: KS cannot reach 0.05 for any neighbour, and the summary says so
    assert ("and none could be: with 3 vs 3 runs the smallest possible p is 0.1; more seeds "
            "(or --test welch) would settle them.") in text
    assert "difference of means, as logged" in text  # every difference names its scale
    assert "…" not in text.split("## Notes and caveats")[1]  # no note is cut
    assert SCRIPT_NAME not in text and "<b>" not in text


def test_summary_md_stays_under_github_limit_with_500_hyperparameters(built_site):
    """The real analysis of the built sweep, its tables widened to 500 hyperparameters with
    hostile names: every list is cut ("… and N more") and the page stays < 65,536 chars."""
    from sweepsight.analysis import analyse

    result = analyse(snapshot.load(built_site.site / "data" / "sweep"), target="val_acc")
    names = [f"p{i}|<{'x' * 200}>`" for i in range(500)]
    imp = result.importance.table
    wide_imp = pd.DataFrame({"param": names, **{c: [imp[c].iloc[0]] * 500 for c in imp.columns
                                                if c != "param"}})
    corr = result.correlation
    wide_corr = pd.DataFrame([{**corr.iloc[0].to_dict(), "feature": n, "param": n} for n in names])
    pairs = result.significance.pairs
    best = result.significance.configs["config_id"].iloc[0]
    row = pairs[pairs["config_id"] == best].iloc[0].to_dict()
    wide_pairs = pd.DataFrame([{**row, "param": n, "verdict": "worse", "to_value": n} for n in names])
    prep = dataclasses.replace(result.prep, notes=[f"note {n}" for n in names],
                               set_aside={n: "constant" for n in names})
    wide = dataclasses.replace(
        result, prep=prep, correlation=wide_corr,
        importance=dataclasses.replace(result.importance, table=wide_imp),
        significance=dataclasses.replace(result.significance, pairs=wide_pairs),
    )
    text = summary.summary_markdown(wide, title=names[0])
    assert len(text) < summary.MAX_CHARS
    assert assert_gfm_tables_consistent(text) == 3
    assert "… and 485 more" in text  # importance rows and significant neighbours
    notes = text.split("## Notes and caveats")[1]
    # notes + set-aside: whole items dropped and counted, none cut
    assert re.search(r"^- \d{3,} more notes left out to keep this page", notes, flags=re.M)
    body = text.rsplit("*Full report", 1)[0]
    assert "<x" not in body and re.findall(r"(?<!\\)`", body) == []


def test_the_build_writes_nothing_into_the_package_and_leaves_no_work_files(built_site):
    package = Path(build.__file__).parent
    assert not (package / "generated").exists()  # the old in-package output folder
    shipped = {package / "assets" / "significance_walk.js"}  # package data, not build output
    made = [p for p in package.rglob("*")
            if p.suffix in (".pkl", ".js", ".log", ".lock", ".tmp") and p not in shipped]
    assert made == [], made  # the bundle cache lives in the user's cache folder
    names = {p.name for p in built_site.site.rglob("*")}
    assert build.WORK not in names and build.LOCK not in names and "analysis.pkl" not in names
    assert not any(n.endswith(".ipynb") for n in names)


def test_one_run_per_configuration_says_why_significance_cannot_apply(single_run_site):
    from sweepsight.analysis.prepare import prepare
    from sweepsight.analysis.significance import compare_neighbours

    prep = prepare(snapshot.load(single_run_site.site / "data" / "sweep"), target="val_acc")
    sig = compare_neighbours(prep)
    assert not sig.applicable and sig.reason
    text = page_text(single_run_site.site / "significance.html")
    assert " ".join(html.unescape(sig.reason).split()) in text
    summary_text = (single_run_site.site / "summary.md").read_text(encoding="utf-8")
    assert "Significance was not tested: " in summary_text
    assert_gfm_tables_consistent(summary_text)


def test_esc_makes_markdown_inert():
    assert render.esc(SCRIPT_NAME) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert render.esc(PIPE_NAME) == "pipe \\| \\`tick\\` \\*star\\*"
    assert render.esc("# not a heading\nsecond line") == "\\# not a heading second line"
    assert render.esc("1. not a list") == "1\\. not a list"


def test_show_embeds_inline_json_that_cannot_close_its_script():
    import altair as alt

    chart = alt.Chart(pd.DataFrame({"x": [1.0, float("nan")], "name": [SCRIPT_NAME, "b"]}))
    out = render.show(chart.mark_point().encode(x="x", tooltip="name")).data
    spec = re.search(r'-spec">(.*?)</script>', out, flags=re.S).group(1)
    assert "<" not in spec and SCRIPT_NAME not in out
    assert '"x":null' in spec  # NaN is not JSON
    assert "cdn" not in out.lower() and "src=" not in out
    assert out.count("<script") == 2 and "vegaEmbed" in out


# ----------------------------------------------------------------------------- build failures
# Through the real CLI in a subprocess: one line on stderr, the right exit code, no traceback,
# the old site untouched and no building folder left behind.

import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

from tests.conftest import REPO, write_sweep  # noqa: E402


def cli(args, *, cwd: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "sweepsight", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_for_line(proc: subprocess.Popen, pattern: str, lines: list[str], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        lines.append(line)
        if re.search(pattern, line):
            return
        assert time.monotonic() < deadline, f"no {pattern!r} in time: {''.join(lines)}"
    raise AssertionError(f"the build ended before {pattern!r}: {''.join(lines)}{proc.stderr.read()}")


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids = (task / "children").read_text().split()
        for kid in map(int, kids):
            found += [kid, *children(kid)]
    return found


@pytest.fixture
def old_site(tmp_path) -> Path:
    """A finished earlier site (its marker and one page) that failed builds must not touch."""
    site = tmp_path / "site"
    site.mkdir()
    (site / build.SITE_MARKER).write_text("old\n")
    (site / "index.html").write_text("<p>the old site</p>")
    return site


def snapshot_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("out", ["/dev/null/site", "/proc/sweepsight-site"])
def test_an_impossible_out_is_one_line_and_exit_2(tmp_path, out):
    csv = write_sweep(tmp_path / "sweep.csv", seeds=2)
    proc = cli(["--path", csv, "--target", "val_acc", "--out", out, "--renderer", "nbconvert"], cwd=tmp_path)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 2, stderr
    assert stderr.count("\n") == 1 and stderr.startswith(f"error: --out {out}"), stderr
    assert "Traceback" not in stderr


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the kernel through /proc")
def test_stale_building_folders_are_cleaned_and_ctrl_c_is_one_line(tmp_path, old_site):
    import fcntl

    before = snapshot_of(old_site)
    stale = tmp_path / ".site.building-killed1"  # left by a SIGKILLed build: its lock is free
    (stale / "data").mkdir(parents=True)
    (stale / "data" / "sweep.parquet").write_bytes(b"x" * 1000)
    (stale / build.LOCK).write_text("")
    busy = tmp_path / ".site.building-running"  # a build still running: its lock is held
    busy.mkdir()
    held = open(busy / build.LOCK, "w")
    fcntl.flock(held, fcntl.LOCK_EX)
    young = tmp_path / ".site.building-starting"  # made a moment ago, lock not yet taken
    young.mkdir()
    (young / build.LOCK).write_text("")
    an_hour_ago = time.time() - 3600
    for folder in (stale, busy):
        os.utime(folder, (an_hour_ago, an_hour_ago))
    csv = write_sweep(tmp_path / "sweep.csv", seeds=2)
    proc = cli(["--path", csv, "--target", "val_acc", "--out", old_site, "--renderer", "nbconvert"],
               cwd=tmp_path, start_new_session=True)
    lines: list[str] = []
    # The analysis stage's line: the pages (papermill in this process) run next. Not a later
    # line: after "page index" the build ends in about 1.5 s here, and under load the signal
    # came after it had finished (exit 0, a flaky failure).
    wait_for_line(proc, r"\] analysis: ", lines)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
    stdout, stderr = proc.communicate(timeout=120)
    stdout = "".join(lines) + stdout
    held.close()
    assert re.search(r"cleaned 1 folder\(s\) left by killed builds: \.site\.building-killed1", stdout)
    assert not stale.exists() and busy.exists() and young.exists()
    assert proc.returncode == 130, stderr
    assert stderr == "error: interrupted; the existing site was left untouched.\n", stderr
    assert snapshot_of(old_site) == before
    assert sorted(p.name for p in tmp_path.iterdir() if ".building-" in p.name) == [busy.name, young.name]


def test_a_bug_in_a_page_is_a_one_line_build_error_naming_the_page(tmp_path, old_site, monkeypatch,
                                                                    capsys):
    """A page that raises (a bug, not the user's input): exit 1, two lines naming the page, the
    error and a kept copy of the executed notebook with its traceback; the old site untouched,
    nothing half-built left. The pages run in the CLI's process, so the bug is planted here."""
    from sweepsight.reports import charts, cli

    def broken(*args, **kwargs):
        raise RuntimeError("planted bug in the linear page")

    monkeypatch.setattr(charts, "coefficient_chart", broken)
    before = snapshot_of(old_site)
    csv = write_sweep(tmp_path / "sweep.csv", seeds=2)
    code = cli.main(["--source", "csv", "--path", str(csv), "--target", "val_acc",
                     "--out", str(old_site), "--renderer", "nbconvert"])
    err = capsys.readouterr().err
    assert code == 1, err
    first, second = err.splitlines()
    assert first.startswith("error: the report could not be built: reports/pages/linear.ipynb failed: "
                            "RuntimeError: planted bug in the linear page"), first
    assert second == "error: the existing site was left untouched."
    kept = Path(re.search(r"with the traceback: (\S+\.ipynb)\)", first).group(1))
    assert "planted bug" in kept.read_text() and "Traceback" in kept.read_text()
    assert snapshot_of(old_site) == before
    assert [p.name for p in tmp_path.iterdir() if ".building-" in p.name] == []


def test_run_analysis_passes_progress_to_an_analyse_that_takes_it(tmp_path, monkeypatch):
    """``analyse`` is getting ``progress=(stage, seconds)``; the build forwards it when the
    signature has it (here a wrapper with that signature around the real ``analyse``)."""
    import sweepsight.analysis as analysis_pkg
    from sweepsight.adapters import csv_file

    real = analysis_pkg.analyse
    table = csv_file.load({"path": str(write_sweep(tmp_path / "s.csv", seeds=2)), "metrics": ["val_acc"]})
    snapshot.save(table, tmp_path / "snap")

    def analyse(table, *, progress=None, **kw):
        result = real(table, **kw)
        for name, seconds in result.timings.items():
            progress(name, seconds)
        return result

    monkeypatch.setattr(analysis_pkg, "analyse", analyse)
    seen = []
    timings = build.run_analysis(str(tmp_path / "snap"), target="val_acc",
                                 analysis_path=str(tmp_path / "a.pkl"),
                                 progress=lambda name, s: seen.append(name))
    assert seen == list(timings) and "forest" in seen
    assert build.load_analysis(tmp_path / "a.pkl").options.target == "val_acc"


def test_summary_notes_say_each_fact_once(built_site):
    """The runs left out and the hyperparameters set aside appear once in summary.md's notes
    (they came from prep's notes and again from the summary's own lines)."""
    notes = (built_site.site / "summary.md").read_text(encoding="utf-8").split(
        "## Notes and caveats")[1]
    items = [line for line in notes.splitlines() if line.startswith("- ")]
    assert len(items) == len(set(items))
    assert sum("Excluded 1 of 73 runs" in s for s in items) == 1
    assert not any(" left out: " in s and "×" in s for s in items)
    grouped = [s for s in items if "Set aside (not analysed as hyperparameters)" in s]
    assert len(grouped) == 1 and "seed" in grouped[0]
    assert not any(s.startswith("- Set aside seed") for s in items)
