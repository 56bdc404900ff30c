"""The dashboard in headless Chromium (Debian's chromium + chromedriver, installed by ./dev)
against a running `hub demo`: the page loads, shows an alert the demo feed produced, shows
follow-up figures, and a replay from the dead-letter view takes effect."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
KEY = "demo-ops-admin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "demo", "--port", str(port), "--data", str(tmp_path / "demo.db"),
         "--episodes", "40", "--speed", "40000"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), "HUB_HL7__PORT": "0"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    try:
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'chrome'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_dashboard_shows_alerts_figures_and_replays_a_dead_letter(demo: str, browser: webdriver.Chrome,
                                                                  tmp_path: Path) -> None:
    browser.get(f"{demo}/dashboard")
    assert "svu-hub" in browser.title
    browser.find_element(By.ID, "key").send_keys(KEY)
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    wait = WebDriverWait(browser, 60, poll_frequency=0.5)
    rows = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#alert-table tbody tr[data-alert-id]"))
    first = rows[0].get_attribute("data-alert-id")
    api = httpx.get(f"{demo}/alerts/{first}", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert api["alert_id"] == first  # the row on the page is an alert the hub raised

    browser.find_element(By.CSS_SELECTOR, "nav button[data-tab='stats']").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#stats-table tbody tr"))
    assert browser.find_elements(By.CSS_SELECTOR, "#plot-bars rect.bar")
    browser.save_screenshot(str(tmp_path / "stats.png"))

    browser.find_element(By.CSS_SELECTOR, "nav button[data-tab='dlq']").click()
    for attempt in range(5):  # the table is re-rendered by the page's refresh: take a fresh row then
        try:
            button = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#dlq-table button.replay")))
            letter = button.find_element(By.XPATH, "./ancestor::tr").get_attribute("data-letter-id")
            button.click()
            break
        except StaleElementReferenceException:
            if attempt == 4:
                raise
    wait.until(ec.text_to_be_present_in_element((By.ID, "dlq-message"), letter))
    row = httpx.get(f"{demo}/dead-letters/{letter}", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert row["status"] == "replayed"
    assert row["handled_by"] == "demo-ops"
    browser.save_screenshot(str(tmp_path / "dlq.png"))
