"""The HTML report in a real headless Chromium: no console error, counts as in the JSON, drill-down to evidence.

Skipped, with the reason, where Chromium, chromedriver or selenium is missing
(Debian: chromium chromium-driver; selenium comes with the test extra).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from report_testutil import known, results, run

from dirqkit.report import formats

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:
    webdriver = None

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                       reason="needs chromium and chromedriver (Debian packages chromium, chromium-driver)"),
    pytest.mark.skipif(webdriver is None, reason="needs selenium (pip install '.[test]')"),
]


def failing_run_with_evidence(root: Path):
    evidence = root / "failures" / "get"
    (evidence / "queue" / "6a000000").mkdir(parents=True)
    (evidence / "queue" / "6a000000" / "6a0000000000a1.tmp").write_text("half")
    (evidence / "log.txt").write_text("step 1: producer=perl add -> 6a000000/6a0000000000a1\n")
    (evidence / "transcript-producer-perl.jsonl").write_text('{"dir": ">", "line": "{\\"op\\":\\"add\\"}"}\n')
    return run("get", {"producer": "perl", "consumer": "ref"}, "FAIL", ("SIMPLE-ADD-1", "SIMPLE-GET-1"),
               violated=["SIMPLE-ADD-1"], message="step 1: the temporary file was left </pre><b>", evidence=str(evidence))


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="dirqkit-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_report_page_loads_counts_match_json_and_a_failing_cell_shows_its_evidence(tmp_path, browser):
    runs = results(
        run("get", {"producer": "ref", "consumer": "ref"}, "PASS", ("SIMPLE-ADD-1", "SIMPLE-GET-1")),
        run("get", {"producer": "ref", "consumer": "perl"}, "XFAIL", ("SIMPLE-ADD-1", "SIMPLE-GET-1"),
            violated=["SIMPLE-GET-1"], known=[known("perl", "SIMPLE-GET-1")], expected_of=["perl"]),
        failing_run_with_evidence(tmp_path),
        run("get", {"producer": "perl", "consumer": "perl"}, "INCONCLUSIVE", ("SIMPLE-ADD-1", "SIMPLE-GET-1")),
    )
    formats.write(runs, "html", tmp_path / "r.html")
    formats.write(runs, "json", tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    page = (tmp_path / "r.html").read_text()
    assert "http://" not in page and "https://" not in page  # self-contained

    browser.get((tmp_path / "r.html").as_uri())
    assert browser.title == "dirqkit conformance report"
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []

    shown = {e.get_attribute("data-outcome"): int(e.get_attribute("data-count"))
             for e in browser.find_elements(By.CSS_SELECTOR, "#totals span")}
    assert shown == {o: n for o, n in data["totals"].items() if n}
    for impl, counts in data["verdict_counts"].items():
        for status, number in counts.items():
            cells = browser.find_elements(By.CSS_SELECTOR, f"#requirements td.st-{status}[data-impl='{impl}']")
            assert len(cells) == number, (impl, status)

    evidence = browser.find_element(By.CSS_SELECTOR, "#run-2 details")
    assert not evidence.is_displayed() or evidence.get_attribute("open") is None
    browser.find_element(By.CSS_SELECTOR, "#requirements td.st-fails[data-impl='perl'] a").click()
    assert browser.find_element(By.ID, "drill").is_displayed()
    assert browser.find_element(By.ID, "run-2").is_displayed()
    assert not browser.find_element(By.ID, "run-0").is_displayed()  # not behind this cell
    assert evidence.get_attribute("open") is not None
    text = evidence.text
    for expected in ("the temporary file was left </pre><b>", "step 1: producer=perl add", "6a0000000000a1.tmp",
                     "transcript-producer-perl.jsonl", "dirqkit run --case get"):
        assert expected in text

    browser.find_element(By.ID, "show-all").click()
    browser.find_element(By.CSS_SELECTOR, "#f-outcome option[value='']")  # the filter exists with its 'all' choice
    outcome = browser.find_element(By.ID, "f-outcome")
    outcome.find_element(By.XPATH, "option[text()='INCONCLUSIVE']").click()
    visible = [r.get_attribute("id") for r in browser.find_elements(By.CSS_SELECTOR, "tr.run") if r.is_displayed()]
    assert visible == ["run-3"]
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
