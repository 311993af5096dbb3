"""`bisect report --format html` rendered in real headless Chromium (Debian's `chromium`):
the page shows the culprit, the comparison table and the plots, fetches nothing, and its
screenshot is not blank. Marked ``browser`` (``-m "not browser"`` leaves it out)."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser

import matplotlib.image
import numpy as np
import pytest

from fastpath.report import bisection, html
from tests.report import builder

pytestmark = pytest.mark.browser
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDTH, HEIGHT = 1200, 2600


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium")
    if exe is None:
        if os.environ.get("CI") or os.environ.get("FASTPATH_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (scripts/install_deps.sh installs it)")
        pytest.skip("chromium is not installed (scripts/install_deps.sh installs it)")
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120, check=True)


class Dom(HTMLParser):
    """What the rendered page holds: text by element id, table rows, svg count, URLs it refers to."""

    def __init__(self):
        super().__init__()
        self.stack: list[str | None] = []
        self.text: dict[str, str] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self.svgs: dict[str, int] = {}
        self.urls: list[str] = []
        self.svg_text: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.stack.append(a.get("id"))
        for key in ("src", "href", "xlink:href", "data"):
            if a.get(key) and not a[key].startswith("#"):
                self.urls.append(a[key])
        ids = [i for i in self.stack if i]
        if tag == "svg" and ids:
            self.svgs[ids[-1]] = self.svgs.get(ids[-1], 0) + 1
        if tag == "tr" and ids:
            self.rows.setdefault(ids[-1], []).append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            ids = [i for i in self.stack if i]
            if ids and self.rows.get(ids[-1]):
                self.rows[ids[-1]][-1].append("".join(self._cell).strip())
            self._cell = None
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for i in self.stack:
            if i:
                self.text[i] = self.text.get(i, "") + data
        if self._cell is not None:
            self._cell.append(data)
        self.svg_text.append(data)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("html")
    ctx, shas = builder.engine_bisection(tmp)
    path = tmp / "report.html"
    path.write_text(html.render(bisection.load(str(ctx))))
    return path, shas


def test_page_renders_the_culprit_table_and_plots(page, tmp_path):
    path, shas = page
    dom = Dom()
    dom.feed(chromium(tmp_path, "--dump-dom", path.as_uri()).stdout)
    assert dom.urls == []                                   # nothing to fetch: self-contained
    assert dom.text["headline"].startswith("fastpath bisection: +50.10% regression of fp/syscall")
    assert f'commit: {shas[5]} ("sys: make getppid() robust' in dom.text["commit"]
    assert "QEMU Virtual CPU version 2.5+" in dom.text["sut"]
    assert "fastpath bisect confirm --context" in dom.text["reproduce"]
    comparison = dom.rows["comparison"]
    assert comparison[0][:3] == ["result class", "unit", "parent mean"]
    assert [r[0] for r in comparison[1:]] == ["fpsyscall-getppid", "fpsyscall-loop", "fpsyscall-ops2",
                                              "fpsyscall-ops10"]
    assert [r[7] for r in comparison[1:]] == ["(R)", "", "", "(R)"]
    path_rows = dom.rows["path"]
    assert [r[1] for r in path_rows[1:]] == [shas[0][:12], shas[4][:12], shas[6][:12], shas[5][:12], shas[3][:12],
                                             shas[8][:12]]
    for plot in ("plot-history", "plot-distributions", "plot-posterior"):
        assert dom.svgs.get(plot) == 1, plot
    for label in ("session values along the bisection", "P(first bad commit)", "fpsyscall-getppid (ns)"):
        assert label in dom.text["plot-history"] + dom.text["plot-posterior"], label


def test_screenshot_is_a_full_page(page, tmp_path):
    path, _ = page
    png = tmp_path / "report.png"
    chromium(tmp_path, f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={png}", path.as_uri())
    img = matplotlib.image.imread(png)
    assert img.shape[:2] == (HEIGHT, WIDTH)
    ink = (img[..., :3].min(axis=2) < 0.9).mean()           # share of pixels that are not near-white
    assert ink > 0.03
    coloured = (np.ptp(img[..., :3], axis=2) > 0.3).mean()  # the plots' red and green
    assert coloured > 0.002
