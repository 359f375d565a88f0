"""The report in a real browser: Chromium through Playwright renders the demo's report.html with
every image decoded and no request leaving the page."""

from __future__ import annotations

from pathlib import Path

import pytest

from studies.loadtest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser]



def test_report_renders_offline_with_no_broken_image(tiny_demo):
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} not installed (make system-deps installs Debian's chromium)"
    from playwright.sync_api import sync_playwright

    out, _, _, cfg = tiny_demo
    report = out / "report.html"
    url = report.resolve().as_uri()
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            blocked: list[str] = []

            def route(r):  # only the page itself may be fetched; anything else is blocked and noted
                if r.request.url == url:
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.on("request", lambda req: requests.append(req.url))
            page.goto(url, wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth, e.src.slice(0, 22)])")
            headings = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
            rows = page.eval_on_selector_all("table.p2peval tbody tr", "els => els.length")
        finally:
            browser.close()
    assert blocked == []
    assert [u for u in requests if not (u == url or u.startswith("data:") or u == "about:blank")] == []
    n_rows = 2 + len(cfg.trained_rows)  # the trained rows, the ground truth and the degraded row
    assert len(images) == 3 + cfg.report_frames * (1 + 2 * n_rows)
    for alt, complete, width, src in images:
        assert complete and width > 0, alt
        assert src == "data:image/png;base64,", alt
    assert headings == ["Comparison table", "Per-class IoU and accuracy", "Colour distributions (Lab)",
                        "Per-frame pixel accuracy", "Frames where the rows differ most"]
    assert rows == n_rows
