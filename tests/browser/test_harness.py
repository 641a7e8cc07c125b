"""The browser harness's own tests, against pages written into tmp_path and served by a local http.server: axe finds
each planted accessibility fault and nothing on a clean page, page weight counts the bytes actually sent, the
timings are real, screenshots are full-page PNGs, and a missing Chromium or axe-core is a named error."""

from __future__ import annotations

import functools
import os
import struct
import subprocess
import threading
import zlib
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.browser import harness

# An empty icon: no favicon request, so the requests counted are the page's own.
_HEAD = '<meta charset="utf-8"><link rel="icon" href="data:,">'


def _html(body: str, title: str = "Harness test page", head: str = "") -> str:
    head = f"{_HEAD}{head}<title>{title}</title>"
    return f'<!doctype html>\n<html lang="en"><head>{head}</head>\n<body>{body}</body></html>\n'


# A page axe has nothing to say about, at any impact: landmarks, a heading, labelled input, alt text, good contrast.
CLEAN_MAIN = """<header><p>Account vending</p></header>
<main><h1>Teams</h1>
<p id="intro">Each team's accounts and their state.</p>
<img src="logo.png" alt="Vending logo" width="16" height="16">
<form><label for="team">Team</label> <input id="team" name="team" aria-describedby="intro">
<button type="submit">Search</button></form>
{fault}
</main>
<footer><p>Local emulator</p></footer>"""

# One planted fault each: (axe rule it must trip, markup, the id of the element axe must point at).
FAULTS = {
    "image-alt": ('<img id="noalt" src="logo.png" width="16" height="16">', "noalt"),
    "label": ('<form><input id="unlabelled" name="owner"></form>', "unlabelled"),
    "color-contrast": ('<p id="pale" style="color:#c8c8c8;background:#ffffff">Barely visible</p>', "pale"),
    # Two elements with the id a label points to: axe leaves it for review, the harness counts it (REVIEW_AS_VIOLATION).
    "duplicate-id-aria": (
        '<p id="dup">Cost center</p><p id="dup">again</p><input name="cc" aria-labelledby="dup">',
        "dup",
    ),
}


def _png(width: int, height: int, pixels: bytes) -> bytes:
    """A valid RGB PNG (no compression level games: random pixels do not compress)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + pixels[y * width * 3 : (y + 1) * width * 3] for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, directory): a local web server on 127.0.0.1 serving the test's own pages."""
    (tmp_path / "logo.png").write_bytes(_png(16, 16, bytes(16 * 16 * 3)))
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()


def _open(page: Page, site: tuple[str, Path], name: str, html: str) -> None:
    base, directory = site
    (directory / name).write_text(html, encoding="utf-8")
    response = page.goto(f"{base}/{name}")
    assert response is not None and response.ok


# --- launch ---------------------------------------------------------------------------------------------------------


def test_the_browser_is_debians_chromium(browser: Browser) -> None:
    # The version the browser reports is the one the launched binary reports: no Playwright-downloaded browser.
    out = subprocess.run([harness.chromium_path(), "--version"], capture_output=True, text=True, check=True).stdout
    assert browser.version and browser.version in out, (browser.version, out)


def test_a_missing_chromium_is_a_named_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VEND_CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(harness.HarnessError, match=r"no Chromium at .*no-chromium: run scripts/setup.sh"):
        harness.chromium_path()


# --- axe ------------------------------------------------------------------------------------------------------------


def test_a_clean_page_has_no_violation_at_any_impact(page: Page, site: tuple[str, Path]) -> None:
    _open(page, site, "clean.html", _html(CLEAN_MAIN.format(fault="")))
    assert harness.axe_violations(page) == []
    assert harness.axe_violations(page, impacts=harness.AXE_IMPACTS) == []


@pytest.mark.parametrize("rule", sorted(FAULTS))
def test_each_planted_fault_is_named_with_its_element(page: Page, site: tuple[str, Path], rule: str) -> None:
    # The negative control of the clean page: the same page with one fault added is reported, by rule and element.
    markup, element_id = FAULTS[rule]
    _open(page, site, f"{rule}.html", _html(CLEAN_MAIN.format(fault=markup)))
    violations = harness.axe_violations(page)
    assert [v["id"] for v in violations] == [rule], violations
    (violation,) = violations
    assert violation["impact"] in harness.BLOCKING_IMPACTS
    # Each target is a selector of the offending element (axe writes #id only when the id is unique).
    assert element_id in [page.eval_on_selector(t, "e => e.id") for t in violation["targets"]], violation
    assert violation["help"] and violation["helpUrl"].startswith("https://dequeuniversity.com/rules/axe/")


def test_all_planted_faults_on_one_page_are_each_named(page: Page, site: tuple[str, Path]) -> None:
    everything = "\n".join(markup for markup, _ in FAULTS.values())
    _open(page, site, "faulty.html", _html(CLEAN_MAIN.format(fault=everything)))
    violations = harness.axe_violations(page)
    assert sorted(v["id"] for v in violations) == sorted(FAULTS)


def test_the_impact_filter_keeps_moderate_findings_out_of_the_blocking_set(page: Page, site: tuple[str, Path]) -> None:
    # No <main>, and content outside every landmark: axe's best practices, both of moderate impact.
    _open(page, site, "no-landmarks.html", _html("<h1>Loose</h1><p>Text outside any landmark.</p>"))
    assert harness.axe_violations(page) == []
    moderate = harness.axe_violations(page, impacts=("moderate",))
    assert sorted(v["id"] for v in moderate) == ["landmark-one-main", "region"]


def test_axe_runs_on_a_page_whose_csp_forbids_inline_scripts_without_loosening_it(
    page: Page, site: tuple[str, Path]
) -> None:
    csp = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'; script-src 'self'\">"
    body = CLEAN_MAIN.format(fault=FAULTS["image-alt"][0]) + "<script>window.inlineRan = true;</script>"
    _open(page, site, "csp.html", _html(body, head=csp))
    assert [v["id"] for v in harness.axe_violations(page)] == ["image-alt"]
    # The page's own policy still holds: its inline script was refused.
    assert page.evaluate("() => window.inlineRan === undefined")


def test_bad_impacts_are_refused(page: Page) -> None:
    with pytest.raises(harness.HarnessError, match="impacts must be a non-empty subset"):
        harness.axe_violations(page, impacts=("severe",))
    with pytest.raises(harness.HarnessError, match="impacts must be a non-empty subset"):
        harness.axe_violations(page, impacts=())


def test_a_missing_axe_core_is_a_named_error(
    page: Page, site: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(harness, "AXE_JS", tmp_path / "absent" / "axe.min.js")
    _open(page, site, "clean.html", _html(CLEAN_MAIN.format(fault="")))
    with pytest.raises(harness.HarnessError, match=r"axe-core is not installed .*npm ci in tests/browser"):
        harness.axe_violations(page)


# --- page weight and timings ----------------------------------------------------------------------------------------


def test_a_50_kb_image_is_counted_in_the_page_weight(page: Page, site: tuple[str, Path]) -> None:
    image = _png(140, 140, os.urandom(140 * 140 * 3))
    assert len(image) >= 50 * 1024
    (site[1] / "big.png").write_bytes(image)
    _open(page, site, "heavy.html", _html('<main><h1>Heavy</h1><img src="big.png" alt="noise"></main>'))
    metrics = harness.page_metrics(page)
    assert metrics["requests"] == 2
    (resource,) = metrics["resources"]
    assert resource["url"].endswith("/big.png") and resource["encoded_bytes"] == len(image)
    assert metrics["encoded_bytes"] == metrics["html_encoded_bytes"] + len(image)
    assert metrics["transfer_bytes"] >= metrics["encoded_bytes"] >= 50 * 1024


def test_a_tiny_page_weighs_little_and_its_timings_are_real(page: Page, site: tuple[str, Path]) -> None:
    html = _html("<main><h1>Tiny</h1></main>")
    _open(page, site, "tiny.html", html)
    metrics = harness.page_metrics(page)
    assert metrics["requests"] == 1 and metrics["resources"] == []
    assert metrics["html_bytes"] == len(html.encode())
    assert metrics["encoded_bytes"] == len(html.encode()) < metrics["transfer_bytes"] < 2048
    assert 0 < metrics["ttfb_ms"] <= metrics["dom_content_loaded_ms"] <= metrics["load_ms"]
    assert metrics["fcp_ms"] > 0


def test_a_page_that_never_paints_content_has_no_fcp_and_says_so(page: Page, site: tuple[str, Path]) -> None:
    _open(page, site, "blank.html", _html(""))
    with pytest.raises(harness.HarnessError, match=r"blank.html: no first-contentful-paint within 300 ms"):
        harness.page_metrics(page, fcp_timeout_ms=300)


# --- screenshots ----------------------------------------------------------------------------------------------------


def test_a_screenshot_is_a_full_page_png(page: Page, site: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    artefacts = site[1] / "artefacts"
    monkeypatch.setenv("VEND_ARTEFACTS", str(artefacts))
    _open(page, site, "tall.html", _html('<main><h1>Tall</h1><div style="height:2400px"></div></main>'))
    path = harness.screenshot(page, "tall-page")
    assert path == artefacts / "tall-page.png"
    width, height = _png_size(path)
    # The whole page, not the 1280x900 viewport.
    assert width == 1280 and height >= 2400
    assert path.stat().st_size > 1000


def test_a_screenshot_name_that_is_a_path_is_refused(
    page: Page, site: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    artefacts = site[1] / "artefacts"
    monkeypatch.setenv("VEND_ARTEFACTS", str(artefacts))
    for bad in ("../escape", "a/b", "", ".hidden"):
        with pytest.raises(harness.HarnessError, match="not a path"):
            harness.screenshot(page, bad)
    assert not artefacts.exists()


def test_screenshots_go_under_the_checkout_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEND_ARTEFACTS", raising=False)
    assert harness.artefacts_dir() == harness.REPO_ROOT / ".vend" / "artefacts" / "browser"
