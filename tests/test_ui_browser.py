"""`bakeoff ui` in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver, against the app on a free port of 127.0.0.1. No browser is downloaded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import BIN, _free_port, bakeoff

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1400,1000"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file() or not Path(CHROMEDRIVER).is_file(),
                                reason="Debian's chromium and chromium-driver are not installed "
                                       "(apt-get install chromium chromium-driver)")


def _wait_for_port(port: int, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:  # bounded in time; each try is bounded too
        if proc.poll() is not None:
            raise RuntimeError(f"bakeoff ui exited with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"bakeoff ui did not listen on 127.0.0.1:{port} within {seconds} s")


@contextmanager
def ui_server(config: Path, cache: Path) -> Iterator[str]:
    """`bakeoff ui CONFIG` on a free loopback port, in its own process group, stopped by its PID."""
    port = _free_port()
    proc = subprocess.Popen([str(BIN / "bakeoff"), "ui", str(config), "--port", str(port)], cwd=config.parent,
                            env={**os.environ, "XDG_CACHE_HOME": str(cache)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for_port(port, proc, 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()  # `bakeoff ui` passes it on to its streamlit server
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # the group is the one this test started, and only it
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture
def served(tmp_path: Path):  # noqa: ANN201
    assert bakeoff("init", "--dir", str(tmp_path)).code == 0
    with ui_server(tmp_path / "bakeoff.yaml", tmp_path / "cache") as url:
        yield url


def test_the_app_renders_the_experiment_in_chromium(served: str, tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.wait import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.get(served)
        text = ""
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and "KNeighborsClassifier" not in text:
            time.sleep(0.5)
            text = driver.find_element(By.TAG_NAME, "body").text
        time.sleep(1)  # let the data preview and the fonts settle before the picture
        shot = tmp_path / "ui.png"
        assert driver.save_screenshot(str(shot))
        asks = "return typeof window.onbeforeunload === 'function'"  # the browser's "Leave site?"
        assert not driver.execute_script(asks)  # nothing edited: a reload loses nothing
        field, *_ = WebDriverWait(driver, 20).until(  # the first: tracking has an `experiment` too
            lambda d: d.find_elements(By.CSS_SELECTOR, "input[aria-label='experiment']"))
        field.send_keys(Keys.END, "-two", Keys.ENTER)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not driver.execute_script(asks):
            time.sleep(0.25)
        edited_asks = driver.execute_script(asks)
    finally:
        driver.quit()
    assert shot.stat().st_size > 10_000
    assert "breast-cancer" in text  # the experiment's name
    assert "logistic · LogisticRegression" in text  # a model row
    assert "Valid · 4 model(s)" in text
    assert edited_asks  # an unsaved edit: a reload asks first
