"""Every built page in headless Chromium: no errors, maths rendered, images, links, explorers.

Run after `bash scripts/build_book.sh`; see conftest.py for what is needed.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
import yaml

from browser_env import REPO_ROOT, SITE_DIR

CHAPTERS = [
    "chapters/01_multipathway_networks.html",
    "chapters/02_gradient_flow.html",
    "chapters/03_sharpness.html",
    "chapters/04_edge_of_stability.html",
]


def _pages() -> list[str]:
    if not SITE_DIR.is_dir():
        return []
    skip = ("_static", "_sources", "_images", "_downloads")
    return sorted(
        str(p.relative_to(SITE_DIR))
        for p in SITE_DIR.rglob("*.html")
        if not p.relative_to(SITE_DIR).parts[0].startswith(skip)
    )


PAGES = _pages()
EXPLORER_PAGES = [
    page for page in PAGES if "widget-state+json" in (SITE_DIR / page).read_text(encoding="utf-8")
]


@lru_cache(maxsize=None)
def _ids_in(path: Path) -> frozenset[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return frozenset(re.findall(r'\bid="([^"]+)"', text))


def test_site_has_every_page(site_dir):
    for page in ["index.html", "notation.html", "api.html", "status.html", "references.html", *CHAPTERS]:
        assert (site_dir / page).is_file(), f"{page} missing from the built site"


def test_site_has_explorers(site_dir):
    assert len(EXPLORER_PAGES) >= 3, f"pages with embedded widget state: {EXPLORER_PAGES}"


@pytest.mark.parametrize("page_path", PAGES)
def test_page_loads_without_errors(open_page, site_url, page_path):
    page, record = open_page(urljoin(site_url, page_path))
    assert record.external_requests == [], f"requests leaving the machine: {record.external_requests}"
    assert record.failed_requests == [], f"failed requests: {record.failed_requests}"
    assert record.page_errors == [], f"uncaught errors: {record.page_errors}"
    assert record.console_errors == [], f"console errors: {record.console_errors}"


@pytest.mark.parametrize("page_path", PAGES)
def test_page_maths_rendered(open_page, site_url, page_path):
    page, _ = open_page(urljoin(site_url, page_path))
    unrendered = page.evaluate(
        """() => [...document.querySelectorAll('.math')]
                 .filter(el => !el.querySelector('mjx-container'))
                 .map(el => el.textContent.slice(0, 80))"""
    )
    assert unrendered == [], f"maths left as raw TeX: {unrendered}"
    errors = page.evaluate("() => [...document.querySelectorAll('mjx-merror')].map(e => e.textContent)")
    assert errors == [], f"MathJax errors: {errors}"
    prose = page.evaluate(
        """() => { const main = document.querySelector('main') || document.body;
                   const copy = main.cloneNode(true);
                   copy.querySelectorAll('pre, code, script, style, mjx-container, .math')
                       .forEach(el => el.remove());
                   return copy.innerText; }"""
    )
    leftovers = re.findall(r"(\$[^$\n]{0,40}\\[A-Za-z]+|\\\(|\\\[|\\begin\{)", prose)
    assert leftovers == [], f"raw TeX in the text: {leftovers[:5]}"


@pytest.mark.parametrize("page_path", PAGES)
def test_page_images_loaded_with_alt(open_page, site_url, page_path):
    page, _ = open_page(urljoin(site_url, page_path))
    images = page.evaluate(
        """() => [...document.querySelectorAll('img')].map(img => ({
               src: img.getAttribute('src').slice(0, 60), alt: img.getAttribute('alt'),
               loaded: img.complete && img.naturalWidth > 0,
               visible: img.offsetParent !== null }))"""
    )
    for image in images:
        assert image["alt"], f"image without alt text: {image['src']}"
        if image["visible"]:
            assert image["loaded"], f"image failed to load: {image['src']}"


@pytest.mark.parametrize("page_path", [p for p in PAGES if p.startswith("chapters/")])
def test_figures_white_in_dark_mode(open_page, site_url, page_path):
    page, _ = open_page(urljoin(site_url, page_path))
    page.evaluate("() => document.documentElement.setAttribute('data-theme', 'dark')")
    corners = page.evaluate(
        """() => [...document.querySelectorAll('img')]
              .filter(img => img.offsetParent !== null && img.naturalWidth > 0)
              .map(img => { const c = document.createElement('canvas');
                  c.width = img.naturalWidth; c.height = img.naturalHeight;
                  const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
                  const [r, g, b, a] = ctx.getImageData(1, 1, 1, 1).data;
                  return {src: img.getAttribute('src').slice(0, 60), r, g, b, a}; })"""
    )
    assert corners, f"no figure found on {page_path}"
    for pixel in corners:
        assert min(pixel["r"], pixel["g"], pixel["b"]) >= 245, f"figure background not white: {pixel}"
        assert pixel["a"] == 255, f"figure background transparent: {pixel}"


@pytest.mark.parametrize("page_path", PAGES)
def test_page_internal_links_resolve(site_dir, page_path):
    text = (site_dir / page_path).read_text(encoding="utf-8")
    base = "http://site/" + page_path
    broken = []
    for href in re.findall(r'<a [^>]*href="([^"]+)"', text):
        if href.startswith(("http:", "https:", "mailto:", "javascript:")):
            continue
        target = urlparse(urljoin(base, href.replace("&amp;", "&")))
        path = site_dir / unquote(target.path.lstrip("/"))
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            broken.append(href)
        elif target.fragment and path.suffix == ".html" and unquote(target.fragment) not in _ids_in(path):
            broken.append(href)
    assert broken == [], f"links that do not resolve: {broken}"


@pytest.mark.parametrize("page_path", EXPLORER_PAGES)
def test_explorer_slider_changes_figure(open_page, site_url, page_path):
    page, record = open_page(urljoin(site_url, page_path))
    page.wait_for_selector(".jupyter-widgets .noUi-handle", timeout=20_000)
    live_visible = page.evaluate(
        "() => [...document.querySelectorAll('.mpdln-live')].filter(el => el.offsetParent !== null).length"
    )
    assert live_visible == 0, "a live panel, which needs a kernel, is visible on the static site"
    handles = [h for h in page.query_selector_all(".jupyter-widgets .noUi-handle") if h.is_visible()]
    assert handles, "no slider rendered from the embedded widget state"
    visible_frames = """() => [...document.querySelectorAll('.jupyter-widgets img')]
        .filter(img => img.offsetParent !== null).map(img => img.getAttribute('src'))"""
    for index, handle in enumerate(handles):
        handle.scroll_into_view_if_needed()
        before = page.evaluate(visible_frames)
        handle.focus()
        page.keyboard.press("End")
        page.wait_for_timeout(300)
        after = page.evaluate(visible_frames)
        assert after != before, f"slider {index} on {page_path} moved but no figure changed"
        page.keyboard.press("Home")
        page.wait_for_timeout(300)
        assert page.evaluate(visible_frames) == before, f"slider {index} did not return to its first frame"
    assert record.page_errors == [], f"uncaught errors while moving sliders: {record.page_errors}"


@pytest.mark.parametrize("page_path", CHAPTERS)
def test_chapter_launch_buttons(site_dir, page_path):
    config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
    owner_repo = config["repository"]["url"].removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    notebook = page_path.removesuffix(".html") + ".ipynb"
    text = (site_dir / page_path).read_text(encoding="utf-8").replace("&amp;", "&")
    binder = f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/{notebook}"
    colab = f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{notebook}"
    assert f'href="{binder}"' in text, f"no Binder button to {binder}"
    assert f'href="{colab}"' in text, f"no Colab button to {colab}"
    assert (REPO_ROOT / notebook).is_file()
