"""Take the README's screenshots of a running app (``python app.py``) with Debian's Chromium.

    python tools/screenshots.py [--url http://127.0.0.1:7860] [--out assets]

Needs ``pip install playwright`` and ``apt-get install chromium``; it never downloads a browser.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860")
    parser.add_argument("--out", default="assets", type=Path)
    args = parser.parse_args()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(args.url)
        page.get_by_role("button", name="Compare").click()
        page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
        page.wait_for_timeout(1500)  # let Plotly finish its first draw
        page.screenshot(path=str(args.out / "embed-compare.png"), full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
