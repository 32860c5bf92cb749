"""The sanitiser: a conservative allow-list, images only as embedded data URIs."""

from __future__ import annotations

import pytest

from lti_tool.core.itembank.sanitize import MAX_IMAGE_BYTES, Cleaner, clean_html
from tests.support.hostile_banks import XSS

PNG_URI = "data:image/png;base64,iVBORw0KGgo="


@pytest.mark.parametrize("case", sorted(XSS))
def test_active_content_is_removed(case: str) -> None:
    html, marker = XSS[case]
    cleaned = clean_html(html)
    assert marker not in cleaned.lower()
    assert "<script" not in cleaned and "on" + "error" not in cleaned


def test_formatting_tables_and_embedded_images_are_kept() -> None:
    html = (f'<p>x<sub>2</sub> <b>b</b> <em>e</em></p><table><tr><td colspan="2">c</td></tr>'
            f'</table><ul><li>i</li></ul><pre><code>x</code></pre><img src="{PNG_URI}" '
            f'alt="dot" width="10" height="10">')
    cleaned = clean_html(html)
    for kept in ("<sub>2</sub>", "<b>b</b>", "<em>e</em>", '<td colspan="2">c</td>',
                 "<li>i</li>", "<pre><code>x</code></pre>", f'src="{PNG_URI}"', 'alt="dot"'):
        assert kept in cleaned


def test_links_only_to_http_and_mailto() -> None:
    cleaned = clean_html('<a href="https://example.org/x">ok</a><a href="data:text/html,x">d</a>'
                         '<a href="vbscript:x">v</a>')
    assert 'href="https://example.org/x"' in cleaned
    assert "data:text" not in cleaned and "vbscript" not in cleaned


def test_svg_or_html_data_uri_images_are_dropped() -> None:
    cleaned = clean_html('<img src="data:image/svg+xml;base64,PHN2Zz4=">'
                         '<img src="data:text/html;base64,PHNjcmlwdD4=">')
    assert "svg" not in cleaned and "text/html" not in cleaned and "<img" not in cleaned


def test_pluginfile_images_are_embedded_when_small_else_dropped_with_a_warning() -> None:
    cleaner = Cleaner(files={"dot.png": b"\x89PNG small", "big.gif": b"G" * (MAX_IMAGE_BYTES + 1),
                             "notes.pdf": b"%PDF"})
    cleaned = cleaner.html('<img src="@@PLUGINFILE@@/dot.png"><img src="@@PLUGINFILE@@/big.gif">'
                           '<img src="@@PLUGINFILE@@/notes.pdf"><img src="@@PLUGINFILE@@/gone.png">'
                           '<img src="https://elsewhere.example/x.png">')
    assert cleaned.count("<img") == 1 and "data:image/png;base64," in cleaned
    joined = " ".join(cleaner.warnings)
    assert "big.gif" in joined and "larger than" in joined
    assert "notes.pdf" in joined and "gone.png" in joined
    assert "not embedded" in joined  # the remote image


def test_plain_text_is_escaped() -> None:
    assert Cleaner().text("3 < 5 & <b>\nnext") == "3 &lt; 5 &amp; &lt;b&gt;<br>next"
