"""Makes the README's picture of the demo (docs/demo.png): serves app.py on a model, opens it in headless Chromium,
submits the example document and saves a screenshot of the whole page once the graph is drawn.

    python docs/make_screenshot.py --model outputs/quickstart/model            # after examples/quickstart.py
    python docs/make_screenshot.py --model DIR --relations P17 --threshold 0.01  # preset controls

Needs the demo extra (gradio), selenium, and Debian's chromium and chromium-driver (/usr/bin).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import app  # noqa: E402
from tests.browser import demo_in_chromium  # noqa: E402

WIDTH = 1400  # pixels; the page's height is measured after the results are in


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a local model folder or Hub id")
    parser.add_argument("--out", default=str(REPO / "docs" / "demo.png"), help="the PNG to write")
    parser.add_argument(
        "--threshold", type=float, default=None, help="preset threshold (default: the model's)"
    )
    parser.add_argument("--relations", nargs="*", default=None, help="preset relation ids (default: all)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the results")
    args = parser.parse_args()

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    demo = app.build_demo(args.model, threshold=args.threshold, relations=args.relations)
    with demo_in_chromium(demo, WIDTH, 1200) as (driver, url):
        driver.get(url)
        wait = WebDriverWait(driver, args.timeout)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#globalre-run"))[0].click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#globalre-graph .globalre-node"))
        # the page as tall as its content, so one screenshot holds it all (measured twice: a taller window can
        # lay the page out again)
        for _ in range(2):
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(WIDTH, min(int(height) + 120, 4000))
            time.sleep(1)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
