"""The HTML report (``--html``): one self-contained page, no network.

Sections: the SPEC 3.3 summary, conformance by requirement, the interop
grids, the group matrix, every run (a failing one with its message, step
log, queue tree, driver transcripts and re-run command) and the text of every
cited requirement, taken from SPEC.md. Every cell links to the runs behind
it: a click lists them and opens the evidence of the failing ones. Filters
by implementation, requirement group and outcome; a few lines of inline
script, no library.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from dirqkit.report import evidence
from dirqkit.report.interop import broken_text, producers_and_others
from dirqkit.report.results import BAD, OUTCOMES, Record, requirement_group
from dirqkit.report.views import Views

STYLE = """
body{font-family:sans-serif;margin:1em 2em;color:#222}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #aaa;padding:2px 7px;text-align:left;vertical-align:top}
a{color:#036}
pre{white-space:pre-wrap;background:#f6f6f6;padding:4px;max-height:30em;overflow:auto;margin:2px 0}
.ok,.st-met,.o-PASS .oc{background:#cfc}
.known,.st-deviates,.o-XFAIL .oc{background:#fe9}
.fails,.st-fails,.o-FAIL .oc,.o-ERROR .oc,.o-TIMEOUT .oc,.o-CRASH .oc,.o-XPASS .oc{background:#f99}
.st-ambiguous{background:#fbd}
.inconclusive,.o-INCONCLUSIVE .oc{background:#bdf}
.skip,.st-not-tested,.st-not-applicable,.o-SKIP .oc{background:#eee;color:#666}
#filters label{margin-right:1em}
#drill{border:2px solid #036;padding:.5em;margin:.5em 0}
[hidden]{display:none!important}
"""

SCRIPT = """
(function () {
  var $ = function (s) { return document.querySelector(s); };
  var all = function (s) { return Array.prototype.slice.call(document.querySelectorAll(s)); };
  var drill = null;
  function words(e, name) { return (e.getAttribute(name) || '').split(' '); }
  function apply() {
    var impl = $('#f-impl').value, group = $('#f-group').value, outcome = $('#f-outcome').value;
    all('[data-impl]').forEach(function (e) { e.hidden = !!impl && e.getAttribute('data-impl') !== impl; });
    all('tr[data-group]').forEach(function (e) { e.hidden = !!group && e.getAttribute('data-group') !== group; });
    var shown = 0;
    all('tr.run').forEach(function (e) {
      var hide = (drill && !drill.has(e.getAttribute('data-index'))) ||
        (!!impl && words(e, 'data-impls').indexOf(impl) < 0) ||
        (!!group && words(e, 'data-groups').indexOf(group) < 0) ||
        (!!outcome && e.getAttribute('data-outcome') !== outcome);
      e.hidden = hide;
      if (!hide) { shown += 1; }
    });
    $('#shown').textContent = String(shown);
  }
  function openRun(index) {
    var row = document.getElementById('run-' + index);
    if (!row) { return; }
    var details = row.querySelector('details');
    if (details) { details.open = true; }
    row.hidden = false;
  }
  document.addEventListener('click', function (ev) {
    var cell = ev.target.closest('[data-runs]');
    if (!cell) { return; }
    ev.preventDefault();
    drill = new Set(words(cell, 'data-runs'));
    $('#drill').hidden = false;
    $('#drill-title').textContent = cell.getAttribute('title') || '';
    $('#drill-note').textContent = cell.getAttribute('data-note') || '';
    apply();
    all('tr.run').forEach(function (row) {
      var details = row.querySelector('details');
      if (details) { details.open = drill.has(row.getAttribute('data-index')) && row.getAttribute('data-bad') === '1'; }
    });
    $('#runs').scrollIntoView();
  });
  $('#show-all').addEventListener('click', function () { drill = null; $('#drill').hidden = true; apply(); });
  ['#f-impl', '#f-group', '#f-outcome'].forEach(function (s) { $(s).addEventListener('change', apply); });
  function fromHash() {
    if (location.hash.indexOf('#run-') === 0) { openRun(location.hash.slice(5)); }
  }
  window.addEventListener('hashchange', fromHash);
  apply();
  fromHash();
}());
"""

esc = html.escape


def _attr(value: object) -> str:
    return esc(str(value), quote=True)


def _runs_cell(tag: str, css: str, text: str, runs: list[int], title: str, note: str = "", impl: str | None = None) -> str:
    extra = f" data-impl='{_attr(impl)}'" if impl else ""
    link = (f"<a href='#runs' data-runs='{' '.join(map(str, runs))}' title='{_attr(title)}' data-note='{_attr(note)}'>"
            f"{esc(text)}</a>") if runs else esc(text)
    return f"<{tag} class='{css}'{extra}>{link}</{tag}>"


def _rid(rid: str) -> str:
    return f"<a class=rid href='#spec-{_attr(rid)}'>{esc(rid)}</a>"


def _header(views: Views) -> str:
    results = views.results
    totals = " ".join(f"<span data-outcome='{o}' data-count='{n}'>{n} {o}</span>" for o, n in results.totals().items() if n)
    env = "".join(f"<dt>{esc(str(k))}</dt><dd>{esc(str(v))}</dd>" for k, v in results.environment.items())
    impls = "".join(f"<option>{esc(i)}</option>" for i in results.implementations())
    groups = "".join(f"<option>{esc(g)}</option>" for g in sorted({requirement_group(r) for rec in results.records
                                                                     for r in rec.requirements}))
    outcomes = "".join(f"<option>{o}</option>" for o in OUTCOMES)
    return (f"<header><h1>dirqkit conformance report</h1><p id=totals>{len(results.records)} runs: {totals}</p>"
            + (f"<dl id=environment>{env}</dl>" if env else "")
            + f"<form id=filters><label>implementation <select id=f-impl><option value=''>all</option>{impls}</select></label>"
            f"<label>requirement group <select id=f-group><option value=''>all</option>{groups}</select></label>"
            f"<label>outcome <select id=f-outcome><option value=''>all</option>{outcomes}</select></label></form>"
            "<nav><a href='#summary'>summary</a> · <a href='#requirements'>by requirement</a> · <a href='#interop'>interop</a>"
            " · <a href='#matrix'>groups</a> · <a href='#runs'>runs</a> · <a href='#spec'>requirement texts</a></nav></header>")


def _summary(views: Views) -> str:
    unavailable = views.results.unavailable()
    rows = []
    for impl, claim in views.verdicts.summary().items():
        if impl in unavailable:
            number = list(unavailable).index(impl) + 1
            rows.append(f"<tr data-impl='{_attr(impl)}'><td>{esc(impl)}</td><td colspan=3 class=skip>unavailable "
                        f"<a href='#note-{number}'>[{number}]</a></td><td></td></tr>")
        for row in claim:
            css = "fails" if row["new"] else "known" if row["must"] or row["should"] else "ok" if row["tested"] else "skip"
            note = "; ".join(f"{k}: {', '.join(row[k])}" for k in ("must", "should", "new", "ambiguous") if row[k])
            rows.append(f"<tr data-impl='{_attr(impl)}'><td>{esc(impl)}</td><td>{esc(row['queue_type'])}</td><td>{esc(row['role'])}</td>"
                        + _runs_cell("td", f"verdict {css}", row["text"], row["runs"],
                                     f"{impl}, {row['queue_type']} {row['role']}: {row['text']}", note)
                        + f"<td>{row['tested']}</td></tr>")
    notes = "".join(f"<li id='note-{n}'>{esc(impl)} unavailable: {esc(hint)}</li>" for n, (impl, hint) in enumerate(unavailable.items(), 1))
    return ("<section id=summary><h2>Conformance per claimed queue type and role (SPEC 3.3)</h2>"
            "<p>Known deviations are deviations: an implementation conforms for a queue type and role when no MUST "
            "requirement that binds it is broken.</p><table><tr><th>implementation</th><th>queue type</th><th>role</th>"
            f"<th>verdict</th><th>requirements checked</th></tr>{''.join(rows)}</table>"
            + (f"<ol id=footnotes>{notes}</ol>" if notes else "") + "</section>")


def _requirements(views: Views) -> str:
    impls = views.results.implementations()
    table = views.verdicts.table
    rids = sorted({rid for _, rid in table})
    counts = views.verdicts.counts()
    head = "".join(f"<th data-impl='{_attr(i)}'>{esc(i)}<br><small>" + ", ".join(
        f"<span class=count data-status='{s}'>{n} {s}</span>" for s, n in counts.get(i, {}).items() if n)
                   + "</small></th>" for i in impls)
    rows = []
    for rid in rids:
        cells = []
        for impl in impls:
            verdict = table.get((impl, rid))
            if verdict is None:
                cells.append(f"<td data-impl='{_attr(impl)}'></td>")
                continue
            note = "; ".join(dict.fromkeys(
                [f"{c.kind}: {c.reason} ({c.source})" if c.source else
                 f"{c.kind}: {views.results.records[c.run].label}" + (f" (may be {', '.join(c.candidates)})" if c.candidates else "")
                 for c in verdict.charges] + verdict.notes))
            runs = sorted(set(verdict.runs) | {c.run for c in verdict.charges})
            cells.append(_runs_cell("td", f"cell st-{verdict.status}", verdict.status, runs, f"{impl}, {rid}: {verdict.status}",
                                    note, impl))
        level = views.results.level(rid)
        rows.append(f"<tr data-group='{_attr(requirement_group(rid))}'><th>{_rid(rid)}</th><td>{esc(level)}</td>{''.join(cells)}</tr>")
    return ("<section id=requirements><h2>Conformance by requirement</h2><p>met: every run that involved it passed; "
            "deviates: a known deviation (expectations file); fails: a new failure; ambiguous: a failing run that "
            "cannot be charged to one implementation; not-tested / not-applicable: skipped (see the cell's runs).</p>"
            f"<table><tr><th>requirement</th><th>level</th>{head}</tr>{''.join(rows)}</table></section>")


def _interop(views: Views) -> str:
    parts = []
    for queue_type, kinds in views.grid.items():
        for kind, cells in kinds.items():
            producers, others = producers_and_others(cells)
            head = "".join(f"<th>{esc(o)}</th>" for o in others)
            rows = []
            for producer in producers:
                tds = []
                for other in others:
                    pair = cells.get((producer, other))
                    if pair is None:
                        tds.append("<td>-</td>")
                        continue
                    note = broken_text(pair.broken)
                    tds.append(_runs_cell("td", f"pair {pair.state}", pair.text(), pair.runs,
                                          f"{queue_type}: {producer} -> {kind} {other}: {pair.state}", note))
                rows.append(f"<tr><th>{esc(producer)}</th>{''.join(tds)}</tr>")
            parts.append(f"<h3>{esc(queue_type)} queues: producer (rows) x {esc(kind)} (columns)</h3>"
                         f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>")
    return "<section id=interop><h2>Interop</h2>" + ("".join(parts) or "<p>no interop case ran</p>") + "</section>"


def _matrix(views: Views) -> str:
    impls = views.results.implementations()
    head = "".join(f"<th data-impl='{_attr(i)}'>{esc(i)}</th>" for i in impls)
    rows = []
    for group, row in views.matrix.items():
        tds = "".join(_runs_cell("td", cell.state, cell.text(), cell.runs, f"{group}, {impl}: {cell.text()}", "", impl)
                      if (cell := row.get(impl)) else f"<td data-impl='{_attr(impl)}'>-</td>" for impl in impls)
        rows.append(f"<tr data-group='{_attr(group)}'><th>{esc(group)}</th>{tds}</tr>")
    return ("<section id=matrix><h2>Runs per requirement group</h2><p>passed/ran; known deviations and failures "
            f"counted apart</p><table><tr><th>requirement group</th>{head}</tr>{''.join(rows)}</table></section>")


def _evidence(record: Record) -> str:
    parts = [f"<h4>message</h4><pre>{esc(record.message)}</pre>"]
    if record.known:
        parts.append("<h4>known deviation</h4><ul>" + "".join(
            f"<li>{_rid(e['requirement'])} ({esc(e['implementation'])}): {esc(e['reason'])} <code>{esc(e.get('source', ''))}</code></li>"
            for e in record.known) + "</ul>")
    if record.evidence:
        found = evidence.read(record.evidence)
        parts.append(f"<p>evidence kept in <code>{esc(found.directory)}</code> {esc(found.missing)}</p>")
        if found.log:
            parts.append(f"<h4>step log</h4><pre class=log>{esc(found.log)}</pre>")
        if found.tree:
            parts.append(f"<h4>queue tree</h4><pre class=tree>{esc(found.tree)}</pre>")
        parts += [f"<h4>{esc(name)}</h4><pre class=transcript>{esc(text)}</pre>" for name, text in found.transcripts.items()]
    if record.rerun:
        parts.append(f"<h4>re-run</h4><pre class=rerun>{esc(record.rerun)}</pre>")
    return f"<details><summary>evidence</summary>{''.join(parts)}</details>"


def _runs(views: Views) -> str:
    rows = []
    for index, record in enumerate(views.results.records):
        bad = record.outcome in BAD or record.outcome in ("XFAIL", "INCONCLUSIVE")
        groups = " ".join(sorted({requirement_group(r) for r in record.requirements}))
        detail = _evidence(record) if bad else esc(record.message)
        reqs = " ".join(_rid(r) for r in record.requirements)
        rows.append(f"<tr id='run-{index}' class='run o-{_attr(record.outcome)}' data-index='{index}' "
                    f"data-outcome='{_attr(record.outcome)}' data-impls='{_attr(' '.join(record.involved))}' "
                    f"data-groups='{_attr(groups)}' data-bad='{int(bad)}'><td class=oc>{esc(record.outcome)}</td>"
                    f"<td><a href='#run-{index}'>{esc(record.label)}</a><br><small>{esc(record.title)}</small></td>"
                    f"<td>{reqs}</td><td>{detail}</td></tr>")
    return ("<section id=runs><h2>Runs</h2><div id=drill hidden><b id=drill-title></b><p id=drill-note></p>"
            "<button type=button id=show-all>show every run</button></div><p><span id=shown></span> runs shown</p>"
            f"<table id=run-table><tr><th>outcome</th><th>run</th><th>requirements</th><th>details</th></tr>{''.join(rows)}"
            "</table></section>")


def _spec(views: Views) -> str:
    cited = sorted({r for rec in views.results.records for r in rec.requirements}
                   | {rid for _, rid in views.verdicts.table})
    items = []
    for rid in cited:
        requirement = views.results.requirements.get(rid)
        if requirement is None:
            items.append(f"<dt id='spec-{_attr(rid)}'>{esc(rid)}</dt><dd>not defined in SPEC.md</dd>")
            continue
        items.append(f"<dt id='spec-{_attr(rid)}'><b>{esc(rid)}</b> <code>{esc(requirement.level)}</code> "
                     f"<i>{esc(', '.join(requirement.roles))}</i></dt><dd>{esc(requirement.text)} "
                     f"<small>(SPEC.md line {requirement.line})</small></dd>")
    return f"<section id=spec><h2>Requirement texts (SPEC.md)</h2><dl>{''.join(items)}</dl></section>"


def render(views: Views) -> str:
    body = "".join((_header(views), _summary(views), _requirements(views), _interop(views), _matrix(views),
                    _runs(views), _spec(views)))
    data = json.dumps({"totals": views.results.totals(), "verdict_counts": views.verdicts.counts()}).replace("</", "<\\/")
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>dirqkit conformance report</title>"
            f"<link rel=icon href='data:,'><style>{STYLE}</style></head><body>{body}"
            f"<script type=application/json id=report-data>{data}</script><script>{SCRIPT}</script></body></html>\n")


def write(views: Views, path: Path) -> None:
    path.write_text(render(views), encoding="utf-8")
