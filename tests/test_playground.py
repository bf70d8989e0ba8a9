"""The playground page in a real browser: headless Chromium draws a digit or
fills a table row, presses Predict and must show a label, probabilities and
an explanation. Chromium and its driver are required: without them the tests
fail, they do not skip."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from serve_runs import Server, trained

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,900"]  # fmt: skip


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    base = tmp_path_factory.getbasetemp()
    running = {kind: Server(trained(kind, base)) for kind in ("digits", "table")}
    try:
        for server in running.values():
            server.wait_healthy()
        yield running
    finally:
        for server in running.values():
            server.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not binary.exists() or shutil.which(str(binary)) is None:
            pytest.fail(f"{binary} is missing: install Debian's chromium and chromium-driver.")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def predict_and_wait(browser: WebDriver) -> str:
    """Press Predict; the label once it shows, then wait for the explanation."""
    browser.find_element(By.ID, "predict").click()
    wait = WebDriverWait(browser, 30)
    wait.until(lambda b: b.find_element(By.ID, "label").text.strip() or
               b.find_element(By.ID, "error").text.strip())  # fmt: skip
    error = browser.find_element(By.ID, "error").text
    assert not error, error
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#explanation table")))
    return browser.find_element(By.ID, "label").text.strip()


def draw_a_one(browser: WebDriver) -> None:
    """A vertical stroke through the middle of the canvas."""
    canvas = browser.find_element(By.ID, "canvas-image")
    chain = ActionChains(browser).move_to_element_with_offset(canvas, 0, -90).click_and_hold()
    for _ in range(9):
        chain = chain.move_by_offset(0, 20)
    chain.release().perform()


def test_draw_a_digit_and_predict(browser: WebDriver, servers: dict[str, Server],
                                  tmp_path: Path) -> None:  # fmt: skip
    browser.get(servers["digits"].url + "/")
    assert "label" in browser.title
    draw_a_one(browser)
    drawn = browser.execute_script(
        "const c = document.getElementById('canvas-image');"
        "const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let white = 0; for (let i = 0; i < px.length; i += 4) white += px[i] > 128;"
        "return white;"
    )
    assert drawn > 1000  # the stroke is on the canvas
    label = predict_and_wait(browser)
    assert label in {str(d) for d in range(10)}
    probabilities = browser.find_elements(By.CSS_SELECTOR, "#probabilities tr")
    assert len(probabilities) == 10
    assert probabilities[0].text.startswith(label)  # sorted: the decided label first
    assert browser.find_elements(By.CSS_SELECTOR, "#explanation canvas.heat")
    shot = tmp_path / "playground-digits.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_fill_a_table_row_and_predict(browser: WebDriver, servers: dict[str, Server],
                                      tmp_path: Path) -> None:  # fmt: skip
    browser.get(servers["table"].url + "/")
    income = browser.find_element(By.ID, "field-income")
    income.clear()
    income.send_keys("80")
    note = browser.find_element(By.ID, "field-note")
    note.send_keys("steady job long history")
    label = predict_and_wait(browser)
    assert label in {"no", "yes"}
    rows = browser.find_elements(By.CSS_SELECTOR, "#probabilities tr")
    assert [r.text.split()[0] for r in rows] != [] and len(rows) == 2
    assert all("%" in r.text for r in rows)
    scores = browser.find_elements(By.CSS_SELECTOR, "#scores tr")
    assert {r.text.split()[0] for r in scores} == {"income", "city", "member", "note"}
    shot = tmp_path / "playground-table.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
