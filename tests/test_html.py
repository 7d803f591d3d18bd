"""The self-contained HTML report: ``pricedin report RESULTS.nc --html FILE.html``."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.config import load_config
from engine.views.format import prob as _prob
from engine.views.html import render_html
from engine.simulate import simulate
from engine.summary import open_results, save_results, summary_dict as summarize

from .conftest import CONFIGS

ZHIPU = CONFIGS / "zhipu.toml"
IMG = '<img src="data:image/png;base64,'


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A 2,000-path Zhipu run saved to disk, reloaded as the report command sees it."""
    out = tmp_path_factory.mktemp("html") / "zhipu.nc"
    save_results(simulate(load_config(ZHIPU), paths=2000), out)
    return out, open_results(out)


@pytest.fixture(scope="module")
def page(saved):
    return render_html(saved[1])


class _TagCounter(HTMLParser):
    """Counts start / end tags and checks that they nest (void elements excluded)."""

    VOID = {"meta", "img", "br", "hr", "link", "input", "source", "col", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.opened, self.closed, self.stack, self.errors, self.text = {}, {}, [], [], []

    def handle_starttag(self, tag, attrs):
        self.opened[tag] = self.opened.get(tag, 0) + 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        self.closed[tag] = self.closed.get(tag, 0) + 1
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_page_holds_header_report_and_tables(saved, page):
    ds = saved[1]
    s = summarize(ds)
    assert page.startswith("<!DOCTYPE html>")
    assert "Zhipu AI" in page
    for lens in ("dcf", "market"):
        p = s["p_justified"][lens]
        for k in ("estimate", "se", "ci95_low", "ci95_high"):
            assert _prob(p[k]) in page, (lens, k)
        assert f"[{_prob(p['ci95_low'])}, {_prob(p['ci95_high'])}]" in page
    for text in (f"{s['paths']:,}", str(s["seed"]), ds.attrs["config_sha256"], ds.attrs["engine_version"],
                 ds.attrs["created"], "Wilson 95% CI", "What you must believe", "revenue CAGR over the horizon",
                 "Global sensitivity from 2,000 saved draws", "Spearman (value)", "base rate:"):
        assert text in page, text
    assert f"{s['price_percentile']:.2f}" in page


def test_page_is_self_contained(page):
    assert page.count(IMG) >= 3  # hist, cdf, convergence
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"' >]*)""", page, flags=re.I)
    assert refs and all(r.startswith("data:image/png;base64,") for r in refs), refs[:3]
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, flags=re.I)
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    assert 'id="fig-fan"' not in page and "No fan chart" in page  # the file kept no (path, time) variables
    assert "No tornado" in page  # off unless asked for


def test_page_parses_with_balanced_tags(page):
    p = _TagCounter()
    p.feed(page)
    p.close()
    assert not p.errors, p.errors[:5]
    assert not p.stack, p.stack
    for tag in ("html", "head", "body", "main", "section", "table", "thead", "tbody", "tr", "td", "th", "figure",
                "ul", "li", "dl", "h1", "h2", "style", "title"):
        assert p.opened.get(tag, 0) == p.closed.get(tag, 0), tag
    assert p.opened["html"] == p.opened["body"] == p.opened["main"] == 1
    assert p.opened["table"] >= 5 and p.opened["section"] >= 4
    assert "Zhipu AI" in "".join(p.text)


def test_text_is_escaped(saved):
    ds = saved[1].copy()
    ds.attrs = dict(ds.attrs, company='<b>Acme & "Sons"</b>')
    page = render_html(ds)
    assert "<b>Acme" not in page
    assert "&lt;b&gt;Acme &amp; &quot;Sons&quot;&lt;/b&gt;" in page


def test_fan_and_tornado_when_available(tmp_path):
    cfg = load_config(ZHIPU)
    ds = simulate(cfg, paths=200, keep_paths=True)
    tor = {"method": "one at a time", "paths": 200, "seed": int(ds.attrs["seed"]), "low": 0.1, "high": 0.9,
           "value_unit": ds.attrs["value_unit"], "price": float(ds.attrs["price"]), "base_median": -1.0e4,
           "base_p_justified": 0.03,
           "inputs": [{"key": "margin.fixed_cost_growth", "low_value": 0.06, "high_value": 0.17,
                       "median_low": 4000.0, "median_high": -60000.0, "p_low": 0.035, "p_high": 0.03,
                       "swing": 64000.0, "p_swing": 0.005}]}
    page = render_html(ds, tornado=tor)
    assert page.count(IMG) == 5
    assert 'id="fig-fan"' in page and 'id="fig-tornado"' in page
    assert "Tornado: median equity value [HKD million (whole equity)]" in page and "64,000" in page


def test_cli_writes_the_page_atomically(saved, tmp_path):
    out = tmp_path / "sub" / "zhipu.html"
    r = invoke("report", saved[0], "--html", out)
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == f"wrote {out}"
    text = out.read_text(encoding="utf-8")
    assert "Zhipu AI" in text and text.count(IMG) >= 3
    assert [p.name for p in out.parent.iterdir()] == ["zhipu.html"]  # no temporary file left behind


def test_cli_tornado_rerun(saved, tmp_path):
    out = tmp_path / "t.html"
    r = invoke("report", saved[0], "--html", out, "--tornado", "--tornado-paths", "50")
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    assert 'id="fig-tornado"' in text and "(50 paths, seed" in text


@pytest.mark.parametrize("args, message", [
    (["--html", "{tmp}/report.txt"], "ending in .html"),
    (["--html", "{tmp}/a_file/report.html"], "is a file, not a folder"),
    (["--html", "{tmp}/a_dir.html"], "is a directory"),
    (["--tornado"], "add --html"),
    (["--html", "{tmp}/x.html", "--json"], "give one of them"),
])
def test_cli_bad_html_target_exits_2(saved, tmp_path, args, message):
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "a_dir.html").mkdir()
    r = CliRunner().invoke(main, ["report", str(saved[0])] + [a.format(tmp=tmp_path) for a in args])
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "x.html").exists()


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_browser() is None, reason="no chromium / chromium-browser / google-chrome on PATH")
def test_page_loads_in_headless_chromium(page, tmp_path):
    f = tmp_path / "report.html"
    f.write_text(page, encoding="utf-8")
    cmd = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'ud'}",
           "--dump-dom", f.resolve().as_uri()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Zhipu AI" in r.stdout
    assert r.stdout.count(IMG) >= 3
