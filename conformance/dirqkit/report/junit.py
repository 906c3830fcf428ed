"""JUnit XML (``--junit``): one testcase per run, the implementations, roles and requirement IDs as properties.

A known deviation is a skipped testcase whose message names the expectation
(never a pass); a SKIP and an INCONCLUSIVE run are skipped testcases too,
with their reason; FAIL, ERROR, TIMEOUT, CRASH and XPASS are failures.
The environment facts are properties of the test suite.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from dirqkit.report.results import BAD, Record
from dirqkit.report.views import Views


def _properties(parent: ET.Element, pairs: list[tuple[str, str]]) -> None:
    if pairs:
        props = ET.SubElement(parent, "properties")
        for name, value in pairs:
            ET.SubElement(props, "property", name=name, value=value)


def _testcase(suite: ET.Element, record: Record) -> None:
    case = ET.SubElement(suite, "testcase", classname=f"dirqkit.{record.group}", name=record.label, file=record.where,
                         time=f"{record.seconds:.3f}")
    props = [("implementation", impl) for impl in record.involved]
    props += [(f"role.{role}", impl) for role, impl in record.roles.items()]
    props += [("requirement", rid) for rid in record.requirements]
    props += [("violated", rid) for rid in record.violated]
    props += [("outcome", record.outcome)] + ([("rerun", record.rerun)] if record.rerun else [])
    props += [("evidence", record.evidence)] if record.evidence else []
    _properties(case, props)
    first = record.message.splitlines()[0] if record.message else record.outcome
    if record.outcome in BAD:
        tag = "failure" if record.outcome in ("FAIL", "XPASS") else "error"
        ET.SubElement(case, tag, message=f"{record.outcome}: {first}", type=record.outcome).text = record.message
    elif record.outcome == "XFAIL":
        known = "; ".join(f"{e['requirement']}: {e['reason']} ({e.get('source', '')})" for e in record.known)
        ET.SubElement(case, "skipped", message=f"known deviation: {known or record.expected or first}")
    elif record.outcome in ("SKIP", "INCONCLUSIVE"):
        ET.SubElement(case, "skipped", message=f"{record.outcome.lower()}: {first}")


def write(views: Views, path: Path) -> None:
    results = views.results
    totals = results.totals()
    errors = sum(totals.get(o, 0) for o in ("ERROR", "TIMEOUT", "CRASH"))
    failures = totals.get("FAIL", 0) + totals.get("XPASS", 0)
    skipped = sum(totals.get(o, 0) for o in ("SKIP", "XFAIL", "INCONCLUSIVE"))
    suite = ET.Element("testsuite", name="dirqkit", tests=str(len(results.records)), failures=str(failures),
                       errors=str(errors), skipped=str(skipped))
    _properties(suite, [(f"environment.{k}", str(v)) for k, v in results.environment.items()])
    for record in results.records:
        _testcase(suite, record)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
