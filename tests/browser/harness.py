"""The real-browser harness: Debian's headless Chromium driven by Playwright, axe-core, page weight and timings.

Used by the browser tests (tests/browser/conftest.py gives them a `browser` and a `page`) and by benchmark scripts:

    from playwright.sync_api import sync_playwright
    from tests.browser import harness
    with sync_playwright() as pw:
        browser = harness.launch(pw)
        page = browser.new_page()
        page.goto(url)
        harness.axe_violations(page)   # [] when no serious or critical violation
        harness.page_metrics(page)     # bytes, requests, TTFB, first contentful paint, DOMContentLoaded
        harness.screenshot(page, "home")

Chromium is Debian's package (/usr/bin/chromium, or $VEND_CHROMIUM), installed by scripts/setup.sh; Playwright's own
browser downloads (`playwright install`) are never used. axe-core comes from npm, pinned by tests/browser's
package-lock.json (scripts/setup.sh runs `npm ci`). A missing piece raises HarnessError naming what to install.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright

REPO_ROOT = Path(__file__).resolve().parents[2]
AXE_JS = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"
DEFAULT_CHROMIUM = "/usr/bin/chromium"

# The flags this machine (root, in a container, no GPU, no network beyond the emulator) needs; Playwright's launch()
# adds a fresh --user-data-dir of its own.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# WCAG 2.0 and 2.1, levels A and AA, and axe's best practices. (The wcag21* tags mark only the criteria 2.1 added.)
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice")
BLOCKING_IMPACTS = ("serious", "critical")
# Rules axe itself leaves "for review" (its incomplete results) that the harness counts as violations. axe reports an
# id that ARIA refers to (aria-labelledby, aria-describedby, label[for]...) and that several elements carry as needing
# review, yet the accessible name or description is then computed from whichever element comes first: a real defect
# on pages we write ourselves, and the duplicate-id rules proper are deprecated (WCAG 2.2 made 4.1.1 obsolete).
REVIEW_AS_VIOLATION = ("duplicate-id-aria",)
AXE_IMPACTS = ("minor", "moderate", "serious", "critical")

_SCREENSHOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class HarnessError(RuntimeError):
    """The harness cannot run: Chromium or axe-core is missing, or a call was given bad input."""


def chromium_path() -> str:
    """The Chromium binary to launch: $VEND_CHROMIUM, else Debian's /usr/bin/chromium."""
    path = os.environ.get("VEND_CHROMIUM") or DEFAULT_CHROMIUM
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise HarnessError(
            f"no Chromium at {path}: run scripts/setup.sh (as root it runs "
            "`apt-get install -y --no-install-recommends chromium`), or set VEND_CHROMIUM to a Chromium binary"
        )
    return path


def launch(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, with the flags this machine needs and a fresh profile."""
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=list(CHROMIUM_FLAGS))


def _axe_source() -> str:
    if not AXE_JS.is_file():
        raise HarnessError(
            f"axe-core is not installed ({AXE_JS} is missing): run scripts/setup.sh (npm ci in tests/browser)"
        )
    return AXE_JS.read_text(encoding="utf-8")


# Evaluated through the DevTools protocol, which a page's Content-Security-Policy does not govern: axe runs on pages
# whose CSP forbids inline scripts, and the page under test is not loosened (no bypass_csp) to let it in.
_AXE_RUN = """async ([tags, reviewAsViolation]) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  const found = result.violations.concat(result.incomplete.filter(r => reviewAsViolation.includes(r.id)));
  return found.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    targets: v.nodes.map(n => n.target.join(" ")),
  }));
}"""


def axe_violations(page: Page, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[dict[str, Any]]:
    """axe-core's violations of the page as it is now, of the given impacts: id, impact, help, helpUrl, targets.

    targets holds one CSS selector per offending node (an element inside an iframe or shadow root is written as
    its path of selectors joined by spaces). The rules of REVIEW_AS_VIOLATION count even when axe leaves them for
    review.
    """
    unknown = sorted(set(impacts) - set(AXE_IMPACTS))
    if unknown or not impacts:
        raise HarnessError(f"impacts must be a non-empty subset of {AXE_IMPACTS}, got {impacts!r}")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    violations: list[dict[str, Any]] = page.evaluate(_AXE_RUN, [list(AXE_TAGS), list(REVIEW_AS_VIOLATION)])
    return [v for v in violations if v["impact"] in impacts]


_METRICS = """async (timeoutMs) => {
  const fcp = await new Promise(resolve => {
    const seen = performance.getEntriesByName("first-contentful-paint");
    if (seen.length) return resolve(seen[0].startTime);
    const observer = new PerformanceObserver(list => {
      const entry = list.getEntriesByName("first-contentful-paint")[0];
      if (entry) { observer.disconnect(); resolve(entry.startTime); }
    });
    observer.observe({type: "paint", buffered: true});
    setTimeout(() => { observer.disconnect(); resolve(null); }, timeoutMs);
  });
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource").map(r => ({
    url: r.name, initiator: r.initiatorType,
    transfer_bytes: r.transferSize, encoded_bytes: r.encodedBodySize, decoded_bytes: r.decodedBodySize,
  }));
  return {
    url: nav.name,
    html_bytes: nav.decodedBodySize,
    html_encoded_bytes: nav.encodedBodySize,
    html_chars: document.documentElement.outerHTML.length,
    nav_transfer_bytes: nav.transferSize,
    resources,
    ttfb_ms: nav.responseStart - nav.startTime,
    fcp_ms: fcp,
    dom_content_loaded_ms: nav.domContentLoadedEventEnd - nav.startTime,
    load_ms: nav.loadEventEnd - nav.startTime,
  };
}"""


def page_metrics(page: Page, fcp_timeout_ms: int = 5000) -> dict[str, Any]:
    """Weight and timings of the page's last navigation, from Navigation and Resource Timing, once it has loaded.

    Bytes: transfer_bytes (on the wire, headers included), encoded_bytes (bodies as sent), decoded_bytes (bodies
    after decompression), each the document plus every resource; html_bytes is the document's own body. Times are
    milliseconds from the navigation's start: ttfb_ms, fcp_ms (first contentful paint), dom_content_loaded_ms,
    load_ms. A page that never paints content raises HarnessError rather than reporting no FCP.

    Resource Timing reports 0 bytes for a cross-origin resource without Timing-Allow-Origin and for one served from
    the cache: measure in a fresh context (the `page` fixture is one) against a single-origin page.
    """
    page.wait_for_load_state("load")
    page.wait_for_function("() => performance.getEntriesByType('navigation')[0]?.loadEventEnd > 0")
    raw: dict[str, Any] = page.evaluate(_METRICS, fcp_timeout_ms)
    if raw["fcp_ms"] is None:
        raise HarnessError(f"{raw['url']}: no first-contentful-paint within {fcp_timeout_ms} ms (a blank page?)")
    resources = raw["resources"]
    return {
        **raw,
        "requests": 1 + len(resources),
        "transfer_bytes": raw["nav_transfer_bytes"] + sum(r["transfer_bytes"] for r in resources),
        "encoded_bytes": raw["html_encoded_bytes"] + sum(r["encoded_bytes"] for r in resources),
        "decoded_bytes": raw["html_bytes"] + sum(r["decoded_bytes"] for r in resources),
    }


def artefacts_dir() -> Path:
    """Where screenshots go: $VEND_ARTEFACTS, else .vend/artefacts/browser/ in the checkout (kept by CI)."""
    configured = os.environ.get("VEND_ARTEFACTS")
    return Path(configured) if configured else REPO_ROOT / ".vend" / "artefacts" / "browser"


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of the page as <artefacts dir>/<name>.png; name is a plain file name (letters, digits, . _ -)."""
    if not _SCREENSHOT_NAME.fullmatch(name):
        raise HarnessError(f"screenshot name {name!r}: use 1-100 letters, digits, '.', '_' or '-', not a path")
    directory = artefacts_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name.removesuffix('.png')}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
