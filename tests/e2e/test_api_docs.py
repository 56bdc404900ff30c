"""The API documentation in headless Chromium with every request that is not to loopback blocked
(no CDN can be reached): Swagger UI renders the hub's OpenAPI document from assets the hub serves
itself, under the hub's CSP, with no console error; the dashboard loads under the same CSP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.test_dashboard import demo  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                 "--window-size=1280,900", f"--user-data-dir={tmp_path / 'chrome'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _errors(browser: webdriver.Chrome) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_docs_render_offline_under_the_csp(demo: str, offline: webdriver.Chrome, tmp_path: Path) -> None:  # noqa: F811
    offline.get(f"{demo}/docs")
    wait = WebDriverWait(offline, 60, poll_frequency=0.5)
    title = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .info .title"))
    assert "svu-hub ops API" in title[0].text
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-tag"))
    assert offline.find_elements(By.CSS_SELECTOR, ".btn.authorize")  # the Bearer scheme
    offline.save_screenshot(str(tmp_path / "docs.png"))
    assert _errors(offline) == []
    offline.get(f"{demo}/dashboard")
    wait.until(lambda d: d.find_elements(By.ID, "login"))
    assert _errors(offline) == []
