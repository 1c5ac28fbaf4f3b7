/* The significance walk: every configuration reachable from an embedded, columnar data set.
 * SWEEPSIGHT_WALK(root, data) builds the picker, the target's neighbourhood chart (a Vega-Lite
 * view of data.spec, embedded with vegaEmbed from the site's bundle: this script draws no
 * mark or axis, it hands the view the target's rows through Vega's View API), its table and
 * the paged table of every pair. All text from the data goes through textContent.
 * A URL hash "#<hash_key>=<index or key>" (hash_key "config" by default) selects a
 * configuration on load and when the hash changes: its index in the data (0 = the best), its
 * label ("lr=0.01, solver=adam"), or some of its values (the best-ranked match). */
window.SWEEPSIGHT_WALK = window.SWEEPSIGHT_WALK || function (root, D) {
  "use strict";
  // numbers arrive as comma-separated strings (an empty field is a missing value)
  function nums(s) {
    if (s === "") return [];
    return s.split(",").map(function (x) { return x === "" ? null : +x; });
  }
  ["n", "rank", "reach", "mean", "mean_raw", "values"].forEach(function (k) { D[k] = nums(D[k]); });
  D.codes = D.codes.map(nums);
  var pr = {};
  for (var key in D.pairs) pr[key] = nums(D.pairs[key]);
  var C = D.n.length, P = pr.b.length, NP = D.params.length;
  var V = D.verdicts;
  // pairs are stored by their first configuration (CSR); differences of means follow from
  // the configurations
  pr.a = new Array(P); pr.diff = new Array(P); pr.rdiff = new Array(P);
  for (var c0 = 0; c0 < C; c0++) for (var k0 = pr.a_start[c0]; k0 < pr.a_start[c0 + 1]; k0++) pr.a[k0] = c0;
  for (k0 = 0; k0 < P; k0++) {
    var ca = pr.a[k0], cb = pr.b[k0];
    pr.diff[k0] = D.mean[cb] - D.mean[ca];
    pr.rdiff[k0] = D.mean_raw[cb] - D.mean_raw[ca];
  }
  if (pr.rlo.length === 0) { pr.rlo = pr.lo; pr.rhi = pr.hi; }

  // neighbours by index: pair ids per configuration (CSR)
  var deg = new Int32Array(C + 1);
  for (var k = 0; k < P; k++) { deg[pr.a[k] + 1]++; deg[pr.b[k] + 1]++; }
  for (var i = 0; i < C; i++) deg[i + 1] += deg[i];
  var fill = deg.slice(0, C), adj = new Int32Array(2 * P);
  for (k = 0; k < P; k++) { adj[fill[pr.a[k]]++] = k; adj[fill[pr.b[k]]++] = k; }
  var vstart = new Int32Array(C + 1);
  for (i = 0; i < C; i++) vstart[i + 1] = vstart[i] + D.n[i];
  var byKey = new Map();
  function keyOf(codes) { return codes.join(","); }
  function codesOf(c) { var out = []; for (var j = 0; j < NP; j++) out.push(D.codes[j][c]); return out; }
  for (i = 0; i < C; i++) byKey.set(keyOf(codesOf(i)), i);
  function valueText(j, code) { return code < 0 ? D.absent[j] : D.levels[j][code]; }
  var labels = [];
  function label(c) {
    if (labels[c] === undefined) {
      var parts = [];
      for (var j = 0; j < NP; j++) parts.push(D.params[j] + "=" + valueText(j, D.codes[j][c]));
      labels[c] = parts.join(", ");
    }
    return labels[c];
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var a in attrs || {}) e.setAttribute(a, attrs[a]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function num(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "";
    var s = Number(v).toPrecision(digits || 4);
    if (s.indexOf("e") < 0 && s.indexOf(".") >= 0) s = s.replace(/0+$/, "").replace(/\.$/, "");
    return s;
  }
  function signed(v, digits) { var s = num(v, digits); return s && v > 0 ? "+" + s : s.replace("-", "\u2212"); }
  function pText(v) { return v === null || v === undefined ? "" : num(v, 3); }
  function seedsText(v) { return v === 0 ? "n/a" : v < 0 ? "> 10,000" : String(v); }

  // one pair seen from configuration t
  function view(k, t) {
    var fromA = pr.a[k] === t, other = fromA ? pr.b[k] : pr.a[k], s = fromA ? 1 : -1, j = pr.p[k];
    var lo = fromA ? pr.lo[k] : (pr.hi[k] === null ? null : -pr.hi[k]);
    var hi = fromA ? pr.hi[k] : (pr.lo[k] === null ? null : -pr.lo[k]);
    var rlo = fromA ? pr.rlo[k] : (pr.rhi[k] === null ? null : -pr.rhi[k]);
    var rhi = fromA ? pr.rhi[k] : (pr.rlo[k] === null ? null : -pr.rlo[k]);
    return {k: k, other: other, param: D.params[j], j: j,
            from: valueText(j, D.codes[j][t]), to: valueText(j, D.codes[j][other]),
            diff: s * pr.diff[k], lo: lo, hi: hi, rdiff: s * pr.rdiff[k], rlo: rlo, rhi: rhi,
            delta: pr.delta[k] === null ? null : s * pr.delta[k],
            ks: pr.ks[k], t: pr.t[k], mw: pr.mw[k], bh: pr.bh[k],
            holm: fromA ? pr.holm_a[k] : pr.holm_b[k],
            verdict: V[fromA ? pr.verdict_a[k] : pr.verdict_b[k]],
            reach: D.reach[t],
            power: fromA ? pr.power_a[k] : pr.power_b[k]};
  }
  function neighbours(t) {
    var out = [];
    for (var q = deg[t]; q < deg[t + 1]; q++) out.push(view(adj[q], t));
    var sign = D.maximize ? -1 : 1;
    out.sort(function (x, y) { return sign * (x.diff - y.diff) || (x.param < y.param ? -1 : 1); });
    return out;
  }
  function interval(lo, hi, n) {
    if (lo === null || hi === null) return "n/a (fewer than " + D.min_boot + " runs)";
    return "[" + signed(lo, 3) + ", " + signed(hi, 3) + "]";
  }

  // ---------------------------------------------------------------- layout
  root.textContent = "";
  var picker = el("div", {"class": "walk-picker"});
  var header = el("p", {"class": "walk-header"});
  var legend = el("div", {"class": "walk-legend"});
  var chart = el("div", {"class": "walk-chart"});
  var tableBox = el("div", {"class": "walk-table"});
  var allBox = el("div", {"class": "walk-all"});
  [picker, header, legend, chart, tableBox, allBox].forEach(function (e) { root.appendChild(e); });

  var selects = [];
  D.params.forEach(function (name, j) {
    var lab = el("label", {}, name + " ");
    var s = el("select", {"data-param": name});
    D.levels[j].forEach(function (t, code) { s.appendChild(el("option", {value: String(code)}, t)); });
    if (D.has_absent[j]) s.appendChild(el("option", {value: "-1"}, D.absent[j]));
    s.addEventListener("change", function () { pick(j); });
    lab.appendChild(s);
    picker.appendChild(lab);
    selects.push(s);
  });
  var rankLab = el("label", {}, "rank ");
  var rankIn = el("input", {type: "number", min: "1", max: String(C), step: "1", "class": "walk-rank"});
  rankIn.addEventListener("change", function () {
    var r = parseInt(rankIn.value, 10);
    if (r >= 1 && r <= C) setTarget(r - 1);
  });
  rankLab.appendChild(rankIn);
  picker.appendChild(rankLab);
  var bestBtn = el("button", {type: "button"}, "best");
  bestBtn.addEventListener("click", function () { setTarget(0); });
  picker.appendChild(bestBtn);
  var pickNote = el("p", {"class": "walk-note"});
  picker.appendChild(pickNote);

  D.legend.forEach(function (item) {
    var row = el("div", {"class": "walk-legend-item"});
    var b = el("b", {}, item.verdict + ": ");
    b.style.color = item.verdict === "not testable" ? "#777" : D.colors[item.verdict];
    row.appendChild(b);
    row.appendChild(document.createTextNode(item.text));
    legend.appendChild(row);
  });

  var target = 0;
  function pick(changed) {
    var codes = selects.map(function (s) { return parseInt(s.value, 10); });
    var hit = byKey.get(keyOf(codes));
    if (hit !== undefined) { pickNote.textContent = ""; setTarget(hit); return; }
    // nearest: same value of the changed hyperparameter, fewest other differences, best rank
    var best = -1, bestD = 1e9;
    for (var c = 0; c < C; c++) {
      if (D.codes[changed][c] !== codes[changed]) continue;
      var d = 0;
      for (var j = 0; j < NP; j++) if (D.codes[j][c] !== codes[j]) d++;
      if (d < bestD) { bestD = d; best = c; }
    }
    if (best >= 0) {
      setTarget(best);
      pickNote.textContent = "No configuration has exactly these values; showing the closest that was run (" +
        bestD + " value" + (bestD === 1 ? "" : "s") + " differ).";
    }
  }

  function setTarget(t) {
    target = t;
    root.setAttribute("data-target", String(t));
    var codes = codesOf(t);
    selects.forEach(function (s, j) { s.value = String(codes[j]); });
    rankIn.value = String(t + 1);
    drawHeader(t);
    var nb = neighbours(t);
    drawChart(t, nb);
    drawTable(t, nb);
  }
  function go(c) { pickNote.textContent = ""; setTarget(c); }

  function drawHeader(t) {
    header.textContent = "";
    header.appendChild(el("b", {}, "Target: rank " + D.rank[t] + " of " + C + ": "));
    header.appendChild(document.createTextNode(label(t) + ". "));
    var m = "Mean " + D.target + " " + num(D.mean_raw[t]) + " as logged";
    if (D.scale !== "raw") m += "; " + num(D.mean[t]) + " on the " + D.scale + " scale (the analysis scale)";
    m += "; " + D.n[t] + " run" + (D.n[t] === 1 ? "" : "s") + ".";
    header.appendChild(document.createTextNode(m));
  }

  // ---------------------------------------------------------------- the Vega view
  // The spec's datasets start empty; each target's rows replace them (D.datasets names them).
  var vegaView = null, shown = -1, queued = false;
  function rowsFor(t, nb) {
    var rowLabels = ["(target)"].concat(nb.map(function (r) { return r.param + "=" + r.to; }));
    var cfgs = [t].concat(nb.map(function (r) { return r.other; }));
    var points = [], seeds = [];
    cfgs.forEach(function (c, i) {
      var r = i ? nb[i - 1] : null, verdict = r ? r.verdict : "target";
      var desc = r ? (r.param + ": " + r.from + " \u2192 " + r.to + "; " + r.verdict + "; difference " +
                      signed(r.diff) + " " + interval(r.lo, r.hi) + "; p (Holm) " + pText(r.holm) +
                      "; Cliff's \u03b4 " + signed(r.delta, 2) + ". Click or press Enter to make it the target.")
                   : "the target: " + label(c);
      var diff = r ? r.diff : 0, ci = r && r.lo !== null && r.hi !== null;
      // no interval: a rule of no length at the difference (an empty layer has no extent)
      points.push({row: rowLabels[i], order: i, config: c, verdict: verdict, diff: diff,
                   lo: ci ? r.lo : diff, hi: ci ? r.hi : diff, desc: desc});
      for (var q = vstart[c]; q < vstart[c + 1]; q++) {
        if (D.values[q] === null) continue;
        seeds.push({row: rowLabels[i], order: i, config: c, verdict: verdict, value: D.values[q],
                    desc: rowLabels[i] + " (" + verdict + "): one seed's value " + num(D.values[q])});
      }
    });
    return {points: points, seeds: seeds};
  }
  function replace(name, rows) {
    // the View's own changeset (the bundle's window.vega is not the Vega module)
    vegaView.change(name, vegaView.changeset().remove(function () { return true; }).insert(rows));
  }
  // the marks of the neighbour points layer, made focusable: Tab reaches them, Enter walks
  function markItems() {
    var out = [];
    chart.querySelectorAll("g[class~=\"" + D.points_mark + "_marks\"] > path, g[class*=\"" + D.points_mark + "_\"] > path").forEach(function (e) {
      var item = e.__data__;  // Vega's SVG renderer binds each element to its scenegraph item
      if (item && item.datum) out.push([e, item.datum]);
    });
    return out;
  }
  function decorate() {
    markItems().forEach(function (pair) {
      var e = pair[0], d = pair[1], nb = d.verdict !== "target";
      e.setAttribute("data-config", String(d.config));
      e.setAttribute("class", nb ? "walk-neighbour" : "walk-target");
      if (nb) e.setAttribute("tabindex", "0"); else e.removeAttribute("tabindex");
    });
  }
  function drawChart(t, nb) {
    if (!vegaView) return;  // the view draws the current target once it is embedded
    var rows = rowsFor(t, nb);
    replace(D.datasets.neighbours, rows.points);
    replace(D.datasets.seeds, rows.seeds);
    vegaView.runAsync().then(function () {
      decorate();
      shown = t;
      if (t === target) root.setAttribute("data-drawn", String(t));
      if (!root.hasAttribute("data-ready")) root.setAttribute("data-ready", "1");
    });
  }
  function walkFrom(datum) {
    if (datum && datum.verdict !== undefined && datum.verdict !== "target" && datum.config !== undefined)
      go(datum.config);
  }
  function embed() {
    // the first target's rows travel in the spec (never every pair): no empty first frame
    var rows = rowsFor(target, neighbours(target)), spec = D.spec;
    spec.datasets = {};
    spec.datasets[D.datasets.neighbours] = rows.points;
    spec.datasets[D.datasets.seeds] = rows.seeds;
    window.vegaEmbed(chart, spec, {actions: false, renderer: "svg"}).then(function (res) {
      vegaView = res.view;
      vegaView.addEventListener("click", function (event, item) { walkFrom(item && item.datum); });
      drawChart(target, neighbours(target));
    }).catch(function (err) { console.error("significance view: " + err); });
  }
  chart.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter" && ev.key !== " ") return;
    var e = ev.target, d = e && e.__data__ && e.__data__.datum;
    if (!d || !e.hasAttribute("data-config")) return;
    ev.preventDefault();
    walkFrom(d);
    vegaView.runAsync().then(function () {
      var first = chart.querySelector(".walk-neighbour");
      if (first) first.focus();
    });
  });

  // ---------------------------------------------------------------- tables
  var nbSort = {key: "verdict", dir: 1}, nbFilter = "";
  var NB_COLS = [
    {title: "verdict", key: "verdict", cell: function (r) { return r.verdict; }},
    {title: "change", key: "param", cell: function (r) { return r.param + ": " + r.from + " \u2192 " + r.to; }},
    {title: "runs", key: "n", cell: function (r) { return String(D.n[r.other]); }},
    {title: "mean as logged" + (D.scale === "raw" ? "" : " (" + D.scale + " scale)"), key: "mean",
     cell: function (r) { return num(D.mean_raw[r.other]) + (D.scale === "raw" ? "" : "\n(" + num(D.mean[r.other]) + ")"); }},
    {title: "difference [interval]" + (D.scale === "raw" ? "" : ", as logged (" + D.scale + " scale)"), key: "diff",
     cell: function (r) {
       var s = signed(r.rdiff) + " " + interval(r.rlo, r.rhi);
       return D.scale === "raw" ? s : s + "\n(" + signed(r.diff) + " " + interval(r.lo, r.hi) + ")";
     }},
    {title: "raw p: KS / Welch / MWU", key: "rawp",
     cell: function (r) { return pText(r.ks) + "\n" + pText(r.t) + "\n" + pText(r.mw); }},
    {title: "p Holm (" + D.test + ") / BH", key: "holm", cell: function (r) { return pText(r.holm) + "\n" + pText(r.bh); }},
    {title: "Cliff's \u03b4", key: "delta", cell: function (r) { return signed(r.delta, 2); }},
    {title: "seeds to reach \u03b1 / for 80% power", key: "reach",
     cell: function (r) { return seedsText(r.reach) + " / " + seedsText(r.power); }}
  ];
  var ORDER = {"better": 0, "worse": 1, "not significant": 2, "cannot tell": 3, "not testable": 4};
  function sortVal(r, key) {
    switch (key) {
      case "verdict": return ORDER[r.verdict];
      case "param": return r.param + "\u0000" + r.to;
      case "n": return D.n[r.other];
      case "mean": return D.mean[r.other];
      case "diff": return r.diff;
      case "rawp": return r[D.test_field] === null ? 2 : r[D.test_field];
      case "holm": return r.holm === null ? 2 : r.holm;
      case "delta": return r.delta === null ? 0 : r.delta;
      case "reach": return r.reach;
    }
    return 0;
  }
  function sorter(state) {
    return function (x, y) {
      var a = sortVal(x, state.key), b = sortVal(y, state.key);
      return (a < b ? -1 : a > b ? 1 : 0) * state.dir;
    };
  }
  function headerRow(cols, state, redraw) {
    var tr = el("tr");
    cols.forEach(function (c) {
      var th = el("th", {"data-key": c.key}, c.title + (state.key === c.key ? (state.dir > 0 ? " \u25b2" : " \u25bc") : ""));
      th.style.cursor = "pointer";
      th.addEventListener("click", function () {
        state.dir = state.key === c.key ? -state.dir : 1;
        state.key = c.key;
        redraw();
      });
      tr.appendChild(th);
    });
    return tr;
  }
  // a table row that walks on a click, or on Enter once focused (Tab reaches it); after a
  // keyboard walk the focus moves to the first row of ``then`` (the new target's table)
  function walkable(row, walk, then) {
    row.setAttribute("tabindex", "0");
    row.style.cursor = "pointer";
    row.addEventListener("click", walk);
    row.addEventListener("keydown", function (ev) {
      if (ev.key !== "Enter" && ev.key !== " ") return;
      ev.preventDefault();
      walk();
      var first = then.querySelector("tbody tr[data-config]");
      if (first) first.focus();
    });
  }
  function bodyCell(tr, text) {
    var td = el("td");
    text.split("\n").forEach(function (line, i) {
      if (i) td.appendChild(el("br"));
      td.appendChild(document.createTextNode(line));
    });
    tr.appendChild(td);
  }

  var nbTitle = el("h3", {}, "The target's neighbours, as a table");
  var nbInput = el("input", {type: "search", placeholder: "filter: hyperparameter, value or verdict", "class": "walk-filter"});
  nbInput.addEventListener("input", function () { nbFilter = nbInput.value.toLowerCase(); drawTable(target, neighbours(target)); });
  var nbTable = el("table", {"class": "walk-table-grid walk-nb-table"});
  tableBox.appendChild(nbTitle);
  tableBox.appendChild(nbInput);
  tableBox.appendChild(nbTable);

  function drawTable(t, nb) {
    nbTable.textContent = "";
    var head = el("thead");
    head.appendChild(headerRow(NB_COLS, nbSort, function () { drawTable(target, neighbours(target)); }));
    nbTable.appendChild(head);
    var body = el("tbody");
    var tr = el("tr", {"class": "walk-target-row"});
    tr.style.background = D.row_colors.target;
    ["target", "(this configuration)", String(D.n[t]),
     num(D.mean_raw[t]) + (D.scale === "raw" ? "" : "\n(" + num(D.mean[t]) + ")"), "", "", "", "", ""]
      .forEach(function (s) { bodyCell(tr, s); });
    body.appendChild(tr);
    nb.filter(function (r) {
      return !nbFilter || (r.param + " " + r.from + " " + r.to + " " + r.verdict).toLowerCase().indexOf(nbFilter) >= 0;
    }).sort(sorter(nbSort)).forEach(function (r) {
      var row = el("tr", {"data-config": String(r.other)});
      row.style.background = D.row_colors[r.verdict] || "transparent";
      NB_COLS.forEach(function (c) { bodyCell(row, c.cell(r)); });
      walkable(row, function () { go(r.other); }, nbTable);
      body.appendChild(row);
    });
    nbTable.appendChild(body);
  }

  // every pair, paged
  var allSort = {key: "holm", dir: 1}, allFilter = "", allVerdict = "", page = 0, PER = 25, allRows = null;
  var ALL_COLS = [
    {title: "configuration", key: "from", cell: function (r) { return "rank " + D.rank[r.cfg] + ": " + label(r.cfg); }},
    {title: "neighbour", key: "param", cell: function (r) { return "rank " + D.rank[r.other] + ": " + r.param + ": " + r.from + " \u2192 " + r.to; }},
    NB_COLS[0], NB_COLS[4], NB_COLS[5], NB_COLS[6], NB_COLS[7], NB_COLS[8]
  ];
  allBox.appendChild(el("h3", {}, "Every neighbour pair of the sweep"));
  var links = el("p");
  if (D.files) {
    links.appendChild(document.createTextNode("All " + P.toLocaleString("en") + " pairs as files: "));
    links.appendChild(el("a", {href: D.files.csv}, "pairs.csv"));
    links.appendChild(document.createTextNode(", "));
    links.appendChild(el("a", {href: D.files.parquet}, "pairs.parquet"));
    links.appendChild(document.createTextNode(". "));
  }
  links.appendChild(document.createTextNode("Each pair appears twice below, once from each side (Holm adjusts within each configuration's neighbourhood)."));
  allBox.appendChild(links);
  var allInput = el("input", {type: "search", placeholder: "filter: any value, hyperparameter or verdict", "class": "walk-filter"});
  var verdictSel = el("select", {"class": "walk-verdict-filter"});
  verdictSel.appendChild(el("option", {value: ""}, "every verdict"));
  V.forEach(function (v) { verdictSel.appendChild(el("option", {value: v}, v)); });
  var pager = el("div", {"class": "walk-pager"});
  var prev = el("button", {type: "button"}, "previous"), next = el("button", {type: "button"}, "next");
  var pageText = el("span");
  pager.appendChild(prev); pager.appendChild(pageText); pager.appendChild(next);
  var allTable = el("table", {"class": "walk-table-grid walk-all-table"});
  allBox.appendChild(allInput); allBox.appendChild(verdictSel); allBox.appendChild(pager); allBox.appendChild(allTable);
  allInput.addEventListener("input", function () { allFilter = allInput.value.toLowerCase(); page = 0; allRows = null; drawAll(); });
  verdictSel.addEventListener("change", function () { allVerdict = verdictSel.value; page = 0; allRows = null; drawAll(); });
  prev.addEventListener("click", function () { if (page > 0) { page--; drawAll(); } });
  next.addEventListener("click", function () { page++; drawAll(); });

  function allSortVal(k, t, key) {
    var fromA = pr.a[k] === t, s = fromA ? 1 : -1;
    switch (key) {
      case "from": return t;
      case "param": return D.params[pr.p[k]];
      case "verdict": return ORDER[V[fromA ? pr.verdict_a[k] : pr.verdict_b[k]]];
      case "diff": return s * pr.diff[k];
      case "rawp": var p = pr[D.test_field][k]; return p === null ? 2 : p;
      case "holm": var h = fromA ? pr.holm_a[k] : pr.holm_b[k]; return h === null ? 2 : h;
      case "delta": return pr.delta[k] === null ? 0 : s * pr.delta[k];
      case "reach": return D.reach[t];
    }
    return 0;
  }
  function buildAll() {
    var out = [];
    for (var k = 0; k < P; k++) {
      for (var side = 0; side < 2; side++) {
        var t = side ? pr.b[k] : pr.a[k];
        var v = V[side ? pr.verdict_b[k] : pr.verdict_a[k]];
        if (allVerdict && v !== allVerdict) continue;
        if (allFilter) {
          var o = side ? pr.a[k] : pr.b[k];
          var hay = (label(t) + " " + D.params[pr.p[k]] + "=" + valueText(pr.p[k], D.codes[pr.p[k]][o]) + " " + v).toLowerCase();
          if (hay.indexOf(allFilter) < 0) continue;
        }
        out.push(2 * k + side);
      }
    }
    var key = allSort.key, dir = allSort.dir;
    var sk = out.map(function (x) { return allSortVal(x >> 1, x & 1 ? pr.b[x >> 1] : pr.a[x >> 1], key); });
    var idx = out.map(function (_, i) { return i; });
    idx.sort(function (i, j) { return ((sk[i] < sk[j] ? -1 : sk[i] > sk[j] ? 1 : 0) * dir) || (out[i] - out[j]); });
    return idx.map(function (i) { return out[i]; });
  }
  function drawAll() {
    if (allRows === null) allRows = buildAll();
    var pages = Math.max(1, Math.ceil(allRows.length / PER));
    page = Math.min(page, pages - 1);
    pageText.textContent = " page " + (page + 1) + " of " + pages + " (" + allRows.length.toLocaleString("en") + " rows) ";
    allTable.textContent = "";
    var head = el("thead");
    head.appendChild(headerRow(ALL_COLS, allSort, function () { allRows = null; page = 0; drawAll(); }));
    allTable.appendChild(head);
    var body = el("tbody");
    allRows.slice(page * PER, page * PER + PER).forEach(function (x) {
      var k = x >> 1, t = x & 1 ? pr.b[k] : pr.a[k], r = view(k, t);
      r.cfg = t;
      var row = el("tr");
      row.style.background = D.row_colors[r.verdict] || "transparent";
      ALL_COLS.forEach(function (c) { bodyCell(row, c.cell(r)); });
      walkable(row, function () { go(t); root.scrollIntoView(); }, nbTable);
      body.appendChild(row);
    });
    allTable.appendChild(body);
  }

  // "#config=12", "#config=lr%3D0.01%2C%20solver%3Dadam" or some of the values
  var HASH_KEY = D.hash_key || "config";
  function fromHash() {
    var want = null;
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var eq = part.indexOf("=");
      if (eq > 0 && decodeURIComponent(part.slice(0, eq)) === HASH_KEY)
        want = decodeURIComponent(part.slice(eq + 1).replace(/\+/g, " "));
    });
    if (want === null) return -1;
    if (/^\d+$/.test(want)) return +want < C ? +want : -1;
    for (var c = 0; c < C; c++) if (label(c) === want) return c;
    // some of the values: "solver=adam, lr=0.01"; no prototype, so that a hyperparameter
    // named "constructor" or "toString" is not found in it before it is given
    var given = Object.create(null);
    want.split(/,\s*/).forEach(function (kv) {
      var q = kv.indexOf("=");
      if (q > 0) given[kv.slice(0, q).trim()] = kv.slice(q + 1).trim();
    });
    for (c = 0; c < C; c++) {  // configurations are stored best first
      var ok = Object.keys(given).length > 0;
      for (var j = 0; j < NP && ok; j++)
        if (D.params[j] in given && valueText(j, D.codes[j][c]) !== given[D.params[j]]) ok = false;
      if (ok) return c;
    }
    return -1;
  }
  function followHash() {
    var c = fromHash();
    if (c < 0) return false;
    go(c);
    root.scrollIntoView();
    return true;
  }
  window.addEventListener("hashchange", followHash);

  if (!followHash()) setTarget(0);
  drawAll();
  if (window.vegaEmbed) embed();
  else (window.__sweepsightQueue = window.__sweepsightQueue || []).push(embed);
};
