"""Time to interactive of the review page against a running stack (`make run`), in the distribution's headless
Chromium: from navigation to the first queue item shown and answerable (the page's own mark,
`window.deertrackInteractiveAt`), cold (a fresh browser profile each run), and the queue list of 50 items.

    .venv/bin/python -m infra.review_timing http://127.0.0.1:8001 "$REVIEWER_TOKEN" [--runs 5]

It only reads: no answer is sent.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import urllib.request

CHROMIUM = "/usr/bin/chromium"


def _queue_size(url: str, token: str) -> dict[str, int]:
    request = urllib.request.Request(f"{url}/api/review/queue?limit=1", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["by_kind"]


def measure(url: str, token: str, runs: int, chromium: str = CHROMIUM) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    first, queue = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1360, "height": 900})
                page = context.new_page()
                page.goto(f"{url}/review#token={token}")
                page.wait_for_selector('main[data-ready^="detection-"], main[data-ready^="merge-"]',
                                       state="attached", timeout=60_000)
                first.append(float(page.evaluate("window.deertrackInteractiveAt")))
                started = page.evaluate("performance.now()")
                page.keyboard.press("q")
                page.wait_for_selector('main[data-ready="queue"]', state="attached", timeout=60_000)
                queue.append(float(page.evaluate("performance.now()")) - float(started))
                context.close()
        finally:
            browser.close()
    return {"runs": runs, "queue": _queue_size(url, token),
            "time_to_interactive_ms": {"median": round(statistics.median(first)), "min": round(min(first)),
                                       "max": round(max(first))},
            "queue_list_50_ms": {"median": round(statistics.median(queue)), "min": round(min(queue)),
                                 "max": round(max(queue))}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the API's base URL, e.g. http://127.0.0.1:8001")
    parser.add_argument("token", help="a viewer's or reviewer's token")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.url.rstrip("/"), args.token, args.runs, args.chromium), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
