"""The demo (app.py) served on this machine and opened in Debian's headless Chromium through selenium: what the
browser test and docs/make_screenshot.py share."""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
from collections.abc import Iterator

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# A quiet headless Chromium on a machine without network: no background connections that would fail.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def demo_in_chromium(demo, width: int = 1400, height: int = 2200) -> Iterator[tuple[object, str]]:
    """Serves the Gradio app `demo` on 127.0.0.1 (a free port) and yields `(driver, url)`: a selenium driver of a
    headless Chromium with a fresh profile, its window `width` x `height` pixels. The app, the browser and the
    profile are gone afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    import app

    port = free_port()
    demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app.LAUNCH_STYLE
    )
    profile = tempfile.mkdtemp(prefix="globalre-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = None
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(30)
        yield driver, f"http://127.0.0.1:{port}/"
    finally:
        if driver is not None:
            driver.quit()
        demo.close()
        shutil.rmtree(profile, ignore_errors=True)
