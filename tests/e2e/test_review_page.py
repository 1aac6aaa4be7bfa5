"""The review page in a real browser: the distribution's headless Chromium, driven by Playwright, reviews ten
detections of a demo slice by keyboard (one key per decision) and the database is checked after every answer:
confirm, reassign, new deer, invalid, a class correction, undo, merge and its undo. A viewer sees it read-only.
Screenshots of the queue, a detection and a merge candidate go to docs/ (the README shows them).

Chromium comes from `apt-get install chromium` (`make test` installs it where it can). Outside CI a machine
without it skips this test and says so; in CI (CI=true) a missing browser fails it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deertrack import db
from deertrack.auth import Role
from tests.auth_tokens import token
from tests.export_api_client import call
from tests.review_helpers import seed_reviewable

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[2] / "docs"
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        message = f"no Chromium at {CHROMIUM}: apt-get install chromium (make test does it where it can)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield chromium
        finally:
            chromium.close()


def _one(sql: str, **params: Any) -> Any:
    with db.connection() as con:
        rows = con.run(sql, **params)
    return rows[0] if rows else None


def _reviews(detection_id: int) -> list[tuple[str, str, bool]]:
    with db.connection() as con:
        return [tuple(r) for r in con.run("SELECT action, actor, undone_at IS NOT NULL FROM detection_reviews"
                                          " WHERE detection_id = :d ORDER BY id", d=detection_id)]


def _truth(detection_id: int) -> tuple[str, str, str] | None:
    row = _one("SELECT individual_key, source, recorded_by FROM detection_truth WHERE detection_id = :d",
               d=detection_id)
    return tuple(row) if row else None


def _detection(detection_id: int) -> dict[str, Any]:
    deer, valid, corrected = _one("SELECT deer_id, is_valid, corrected_classification FROM detections WHERE id = :d",
                                  d=detection_id)
    return {"deer_id": deer, "is_valid": valid, "corrected": corrected}


class Reviewer:
    """The page as a person at a keyboard sees it."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.keys = 0

    def ready(self, prefix: str) -> str:
        try:
            self.page.wait_for_selector(f'main[data-ready^="{prefix}"]', state="attached", timeout=WAIT_MS)
        except Exception as exc:
            raise AssertionError(f"waiting for {prefix}: shows {self.shown!r}, alert {self.alert()!r}") from exc
        self.page.wait_for_function("!document.body.dataset.busy", timeout=WAIT_MS)
        return self.page.get_attribute("main", "data-ready")

    def press(self, key: str) -> None:
        self.keys += 1
        self.page.keyboard.press(key)

    def answer(self, key: str, after: str = "detection-") -> str:
        """One key; wait until the next item is shown. Returns what is shown."""
        count = self.page.get_attribute("main", "data-shown")
        self.press(key)
        self.page.wait_for_function(f"document.getElementById('main').dataset.shown !== '{count}'"
                                    " || document.body.dataset.busy === undefined && "
                                    "!document.getElementById('alert').hidden", timeout=WAIT_MS)
        return self.ready(after)

    @property
    def shown(self) -> str:
        return self.page.get_attribute("main", "data-ready") or ""

    @property
    def detection(self) -> int:
        assert self.shown.startswith("detection-"), self.shown
        return int(self.shown.split("-")[1])

    def alert(self) -> str:
        return "" if self.page.is_hidden("#alert") else self.page.inner_text("#alert")

    def screenshot(self, name: str) -> None:
        DOCS.mkdir(exist_ok=True)
        self.page.wait_for_load_state("networkidle")
        # every picture asked for is drawn (or said to be unavailable)
        self.page.wait_for_function("[...document.images].every(i => !i.dataset.src || (i.src && i.complete)"
                                    " || i.alt.endsWith('(picture unavailable)'))", timeout=WAIT_MS)
        self.page.screenshot(path=str(DOCS / name), full_page=False)


def _candidate_key(api: str, detection_id: int) -> str | None:
    """The key of the first candidate that is not the detection's deer and suits its class."""
    view = call("GET", f"{api}/api/detections/{detection_id}").body
    current = view["deer"]["id"] if view["deer"] else None
    for number, c in enumerate(view["candidates"], start=1):
        if c["deer_id"] != current and c["sex_match"]:
            return str(number)
    return None


def test_ten_detections_reviewed_by_keyboard(api, browser, capsys) -> None:
    seed_reviewable(images=60)
    context = browser.new_context(viewport={"width": 1360, "height": 900}, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    reviewer = Reviewer(page)
    page.goto(f"{api}/review#token={token(Role.REVIEWER, user='rita')}")
    first = reviewer.detection if reviewer.ready("detection-") else None
    interactive_ms = page.evaluate("window.deertrackInteractiveAt")
    assert "#token=" not in page.url  # the token leaves the address bar, kept in sessionStorage
    assert page.inner_text("#who").startswith("rita · reviewer")
    # the queue, then a merge candidate side by side: merge (one key), undo
    reviewer.press("q")
    reviewer.ready("queue")
    reviewer.screenshot("review-queue.png")
    page.select_option("#f-kind", "merge_candidate")
    page.click("#filters button[type=submit]")
    reviewer.ready("queue")
    page.focus("#queue-title")
    reviewer.press("Enter")
    pair = reviewer.ready("merge-")
    a, b = (int(x) for x in pair.split("-")[1:])
    reviewer.screenshot("review-merge.png")
    reviewer.press("m")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Merged')", timeout=WAIT_MS)
    assert not reviewer.alert()
    merge_id, merged_id, undone = _one("SELECT id, merged_deer_id, undone_at FROM deer_merges ORDER BY id DESC")
    assert {merged_id} < {a, b} and undone is None
    assert _one("SELECT status FROM deer WHERE id = :d", d=merged_id)[0] == "merged"
    page.wait_for_function("!document.body.dataset.busy", timeout=WAIT_MS)
    reviewer.press("z")
    reviewer.ready(f"merge-{a}-{b}")
    assert _one("SELECT undone_by FROM deer_merges WHERE id = :m", m=merge_id)[0] == "rita"
    assert _one("SELECT status FROM deer WHERE id = :d", d=merged_id)[0] != "merged"
    # back to the whole queue, its first item
    reviewer.press("q")
    reviewer.ready("queue")
    page.select_option("#f-kind", "")
    page.click("#filters button[type=submit]")
    reviewer.ready("queue")
    page.focus("#queue-title")
    reviewer.press("Enter")
    reviewer.ready("detection-")

    decided: list[int] = []

    # 1. confirm (a detection the crop gate left for review has no deer to confirm: the page says so)
    while _detection(reviewer.detection)["deer_id"] is None:
        reviewer.press("c")
        page.wait_for_function("!document.getElementById('alert').hidden", timeout=WAIT_MS)
        assert "no deer to confirm" in reviewer.alert()
        reviewer.answer("j")
    confirmed = reviewer.detection
    deer = _detection(confirmed)["deer_id"]
    reviewer.answer("c")
    assert _reviews(confirmed) == [("confirm", "rita", False)]
    assert _truth(confirmed) == (f"deer-{deer}", "review", "rita")
    assert reviewer.detection != confirmed
    decided.append(confirmed)

    # 2. reassign to a candidate (one key); detections with no suitable candidate are skipped
    key = _candidate_key(api, reviewer.detection)
    while key is None:
        reviewer.answer("j")
        key = _candidate_key(api, reviewer.detection)
    moved = reviewer.detection
    view = call("GET", f"{api}/api/detections/{moved}").body
    target = view["candidates"][int(key) - 1]["deer_id"]
    reviewer.answer(key)
    assert _detection(moved)["deer_id"] == target
    assert _reviews(moved) == [("reassign", "rita", False)] and _truth(moved) == (f"deer-{target}", "review", "rita")
    decided.append(moved)

    # 3. a new deer
    fresh = reviewer.detection
    before = _one("SELECT count(*) FROM deer")[0]
    reviewer.answer("n")
    made = _detection(fresh)["deer_id"]
    assert _one("SELECT count(*) FROM deer")[0] == before + 1
    assert _one("SELECT notes FROM deer WHERE id = :d", d=made)[0] == "made by review (rita)"
    assert _reviews(fresh) == [("new_deer", "rita", False)] and _truth(fresh) == (f"deer-{made}", "review", "rita")
    decided.append(fresh)

    # 4. invalid, 5. undo it: the detection is back, valid, and shown again
    wrong = reviewer.detection
    reviewer.answer("x")
    assert _detection(wrong)["is_valid"] is False and _reviews(wrong) == [("invalid", "rita", False)]
    reviewer.answer("z")
    assert reviewer.detection == wrong
    assert _detection(wrong)["is_valid"] is True and _reviews(wrong) == [("invalid", "rita", True)]
    reviewer.answer("x")
    assert _detection(wrong)["is_valid"] is False
    decided.append(wrong)

    # a class correction stays on the detection (not a decision); then confirm
    corrected = reviewer.detection
    reviewer.press("u")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Class corrected')",
                           timeout=WAIT_MS)
    reviewer.ready("detection-")
    assert _detection(corrected)["corrected"] == "unknown" and _reviews(corrected) == [("classify", "rita", False)]
    reviewer.answer("c")
    decided.append(corrected)

    # the rest of the ten: one key each (confirm)
    while len(decided) < 10:
        current = reviewer.detection
        if len(decided) == 9:
            reviewer.screenshot("review-detection.png")
        reviewer.answer("c")
        assert _reviews(current)[-1] == ("confirm", "rita", False)
        decided.append(current)
    assert len(set(decided)) == 10 and not reviewer.alert()
    # every decided detection left the queue
    queue = call("GET", f"{api}/api/review/queue?limit=200").body
    assert not {i.get("detection_id") for i in queue["items"]} & set(decided)
    assert _one("SELECT count(*) FROM detection_reviews WHERE decides AND undone_at IS NULL")[0] == 10

    assert not errors, errors
    context.close()
    with capsys.disabled():
        print(f"\nreview page: time to interactive {interactive_ms:.0f} ms (first detection {first} shown, "
              f"answerable); {reviewer.keys} keys for 10 decisions, an undo, a class correction and a merge")


def test_a_viewer_sees_the_page_read_only(api, browser) -> None:
    seed_reviewable(images=20)
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{api}/review#token={token(Role.VIEWER, user='vera')}")
    reviewer = Reviewer(page)
    reviewer.ready("detection-")
    detection = reviewer.detection
    assert page.inner_text("#who") == "vera · viewer · read-only"
    assert page.is_disabled('button[data-act="confirm"]') and page.is_disabled('button[data-act="invalid"]')
    page.keyboard.press("c")
    page.wait_for_selector("#alert:not([hidden])", timeout=WAIT_MS)
    assert "Read-only" in reviewer.alert()
    assert _reviews(detection) == []
    refused = call("PATCH", f"{api}/api/detections/{detection}", {"is_valid": False}, token=token(Role.VIEWER))
    assert refused.status == 403 and _detection(detection)["is_valid"] is True
    context.close()


def test_signing_in_by_pasting_a_token(api, browser) -> None:
    seed_reviewable(images=10)
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{api}/review")
    page.wait_for_selector("#sign-in:not([hidden])", timeout=WAIT_MS)
    page.fill("#token-input", "not a token")
    page.click("#sign-in-form button")
    assert "not a token" in page.inner_text("#alert")
    page.fill("#token-input", token(Role.REVIEWER, user="rita"))
    page.click("#sign-in-form button")
    Reviewer(page).ready("detection-")
    assert page.evaluate("sessionStorage.getItem('deertrack.token')").count(".") == 2
    context.close()


class _HostedSignIn:
    """A stand-in for the Cognito hosted sign-in on loopback (the real one needs AWS): /oauth2/authorize sends the
    browser straight back with a code, /oauth2/token trades it for an ID token of the test user pool only when
    the PKCE verifier matches the challenge. Records what it was asked."""

    def __init__(self, user: str) -> None:
        import base64
        import hashlib
        import threading
        import urllib.parse
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        hosted = self
        self.asked: dict[str, Any] = {}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                hosted.asked["authorize"] = query
                back = f"{query['redirect_uri']}?code=the-code&state={query['state']}"
                self.send_response(302)
                self.send_header("Location", back)
                self.end_headers()

            def do_POST(self) -> None:
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
                hosted.asked["token"] = form
                digest = base64.urlsafe_b64encode(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
                good = (form.get("code") == "the-code" and digest.decode().rstrip("=") ==
                        hosted.asked["authorize"]["code_challenge"])
                body = (json.dumps({"id_token": token(Role.REVIEWER, user=user), "token_type": "Bearer"}) if good
                        else json.dumps({"error": "invalid_grant"})).encode()
                self.send_response(200 if good else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_signing_in_through_the_hosted_sign_in(stack, browser, monkeypatch) -> None:
    from infra.api_server import ApiServer
    from tests.conftest import reset_caches

    seed_reviewable(images=10)
    hosted = _HostedSignIn("hana")
    monkeypatch.setenv("AUTH_HOSTED_UI_URL", hosted.url)
    reset_caches()
    server = ApiServer(port=0).start()
    try:
        context = browser.new_context(bypass_csp=True)
        page = context.new_page()
        page.goto(f"{server.url}/review")
        page.click("#hosted-sign-in")
        Reviewer(page).ready("detection-")
        assert page.inner_text("#who").startswith("hana · reviewer")
        authorize, exchange = hosted.asked["authorize"], hosted.asked["token"]
        assert authorize["code_challenge_method"] == "S256" and authorize["redirect_uri"] == f"{server.url}/review"
        assert authorize["client_id"] == exchange["client_id"] and exchange["grant_type"] == "authorization_code"
        assert "code=" not in page.url  # the code leaves the address bar
        context.close()
    finally:
        server.stop()
        hosted.stop()
