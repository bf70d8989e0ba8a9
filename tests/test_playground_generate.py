"""A text generator's playground in a real browser: headless Chromium types a
text, presses Generate, and the answer must stream into the page, piece by
piece, as ``tailor serve`` writes it. Chromium and its driver are required:
without them the tests fail, they do not skip."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from serve_runs import Server
from tailorml.runs.generation import load_generation
from test_serve_generate import TEXTS, trained_generator

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,900"]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_generator("seq2seq", tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def server(run: Path) -> Iterator[Server]:
    running = Server(run)
    try:
        running.wait_healthy()
        yield running
    finally:
        running.stop()


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


def generate_and_wait(browser: WebDriver, text: str) -> str:
    """Type the text, press Generate; the output's state once the stream ends."""
    box = browser.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)
    browser.find_element(By.ID, "generate").click()
    WebDriverWait(browser, 30).until(
        lambda b: b.find_element(By.ID, "output").get_attribute("data-state") != "streaming"
    )
    return str(browser.find_element(By.ID, "output").get_attribute("data-state"))


def test_type_a_text_and_the_answer_streams_in(browser: WebDriver, server: Server, run: Path,
                                               tmp_path: Path) -> None:  # fmt: skip
    browser.get(server.url + "/")
    assert "french" in browser.title
    assert Select(browser.find_element(By.ID, "strategy")).first_selected_option.text == "greedy"
    state = generate_and_wait(browser, TEXTS[0])
    assert state == "done", browser.find_element(By.ID, "error").text
    expected = load_generation(run).generate([TEXTS[0]])[0]
    output = browser.find_element(By.ID, "output")
    assert output.text == expected.text.strip()
    # each piece went into the page as it arrived: one text node per event
    nodes = browser.execute_script("return arguments[0].childNodes.length;", output)
    assert 1 < nodes <= expected.tokens
    joined = browser.execute_script("return arguments[0].textContent;", output)
    assert joined == expected.text
    status = browser.find_element(By.ID, "status").text
    assert f"{expected.tokens} tokens in" in status, status
    assert not browser.find_element(By.ID, "error").text
    shot = tmp_path / "playground-generate.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_sampling_controls_and_refusals_show(browser: WebDriver, server: Server) -> None:
    browser.get(server.url + "/")
    temperature = browser.find_element(By.ID, "temperature")
    assert not temperature.is_enabled()  # greedy: no temperature
    Select(browser.find_element(By.ID, "strategy")).select_by_value("sample")
    assert temperature.is_enabled()
    temperature.clear()
    temperature.send_keys("0.7")
    assert generate_and_wait(browser, TEXTS[1]) == "done"
    assert browser.find_element(By.ID, "output").text
    state = generate_and_wait(browser, " ".join(["red"] * 200))  # over the prompt limit
    assert state == "error"
    error = browser.find_element(By.ID, "error").text
    assert error.startswith("422:") and "over the limit of 64 tokens" in error, error
