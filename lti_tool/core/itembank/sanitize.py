"""HTML sanitising for everything an import stores (question text, choices, feedback, hints,
solutions), with nh3 (the Ammonia sanitiser).

The allow-list is deliberately small: text formatting, lists, code, tables, spans, links to
http(s)/mailto and images. Images are kept only as `data:image/(png|jpeg|gif|webp);base64,`
URIs, so a question never makes the student's browser fetch anything from elsewhere (Metis runs
in an LMS iframe under a strict CSP). Moodle's `@@PLUGINFILE@@/name` images are replaced by the
question's own embedded `<file>` when it is small enough; any other image source is removed and
the caller gets a warning to show the teacher.

Embedding copies the whole image into the text at every reference, so a small file that names
one image thousands of times would grow into hundreds of megabytes. Embedded image text is
therefore budgeted: at most MAX_QUESTION_IMAGE_BYTES across all fields of one question and
MAX_IMPORT_IMAGE_BYTES across one import (an `ImageBudget` shared by the import's cleaners);
images past either limit are removed with a warning, the rest of the question is kept.

Scripts, styles, iframes, objects, SVG, forms, event handlers and `javascript:` URLs never pass.

The sanitiser's work grows with the square of how deeply elements nest (100,000 nested `<div>`s
took 400 s in one request), so HTML nested deeper than MAX_NESTING is refused before it is parsed:
the question is rejected with the reason. Real question HTML nests a handful of levels.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

import nh3

from lti_tool.core.itembank.model import MAX_FILE_BYTES, QuestionError

MAX_IMAGE_BYTES = 200 * 1024
# Sizes of the `data:` URI text, which is what is stored and sent to the browser.
MAX_QUESTION_IMAGE_BYTES = 1024 * 1024
MAX_IMPORT_IMAGE_BYTES = MAX_FILE_BYTES

TAGS = {
    "p", "br", "b", "i", "u", "em", "strong", "sub", "sup", "ul", "ol", "li", "code", "pre",
    "span", "div", "img", "a", "blockquote", "hr",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
}
ATTRIBUTES = {
    "img": {"src", "alt", "width", "height"},
    "a": {"href"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
}
# Removed with their content (nh3 would otherwise keep the text inside them).
DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "svg", "math", "template",
                     "noscript", "textarea", "select", "title"}
IMAGE_TYPES = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "gif": "gif", "webp": "webp"}
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]+$")
_LINK = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)
_SIZE = re.compile(r"^[0-9]{1,4}(%|px)?$")
_PLUGINFILE_SRC = re.compile(r"""(src\s*=\s*)(["'])@@PLUGINFILE@@/([^"']*)\2""", re.IGNORECASE)

MAX_NESTING = 100
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*?(/?)>")
# Elements that never hold others, or that the HTML parser closes when the next one opens
# (a <p> inside a <p>, an <li> after an <li>): they add no depth however many there are.
_FLAT = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
         "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option",
         "optgroup", "rb", "rt", "rp", "thead", "tbody", "tfoot", "colgroup", "caption"}


def nesting_depth(markup: str) -> int:
    """How deeply the elements of `markup` nest at most, counted in one linear pass (unclosed
    elements count as open: a bound, not a parse)."""
    depth = deepest = 0
    for closing, tag, self_closing in _TAG.findall(markup):
        if tag.lower() in _FLAT or self_closing:
            continue
        if closing:
            depth = max(0, depth - 1)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


@dataclass
class ImageBudget:
    """Bytes of embedded image text one import may still add; shared by its questions."""

    remaining: int = MAX_IMPORT_IMAGE_BYTES


@dataclass
class Cleaner:
    """Sanitises the HTML of one question. `files` maps a Moodle file name to its bytes (the
    question's `<file encoding="base64">` elements); `warnings` collects what was removed;
    `budget` is the import's image budget (each Cleaner also keeps its own per-question one)."""

    files: Mapping[str, bytes] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    budget: ImageBudget = field(default_factory=ImageBudget)
    embedded: int = 0  # bytes of image text this question already holds

    def html(self, markup: str) -> str:
        """Sanitised `markup`; raises QuestionError when it nests deeper than MAX_NESTING."""
        if nesting_depth(markup or "") > MAX_NESTING:
            raise QuestionError(f"its HTML nests elements more than {MAX_NESTING} levels deep; "
                                "simplify the question's formatting")
        markup = _PLUGINFILE_SRC.sub(self._embed, markup or "")
        dropped: list[str] = []

        def keep(tag: str, attr: str, value: str) -> str | None:
            if tag == "img" and attr == "src":
                if _DATA_IMAGE.match(value):
                    return value
                if value:  # empty: an embedded file already refused, with its own warning
                    dropped.append(value)
                return None
            if tag == "img" and attr in ("width", "height"):
                return value if _SIZE.match(value) else None
            if tag == "a" and attr == "href":
                return value if _LINK.match(value.strip()) else None
            return value

        cleaned = nh3.clean(
            markup,
            tags=TAGS,
            clean_content_tags=DROP_WITH_CONTENT,
            attributes=ATTRIBUTES,
            attribute_filter=keep,
            url_schemes={"http", "https", "mailto", "data"},
            link_rel="noopener noreferrer",
            strip_comments=True,
        )
        if dropped:
            self.warnings.append(
                f"{len(dropped)} image(s) that were not embedded in the file were removed"
            )
        # An <img> that lost its source shows nothing useful; drop the empty tag.
        return re.sub(r"<img(?![^>]*\ssrc=)[^>]*>", "", cleaned).strip()

    def text(self, plain: str) -> str:
        """Plain text (not HTML) as safe markup: escaped, line breaks kept."""
        return html.escape(plain.strip()).replace("\n", "<br>")

    def _embed(self, match: re.Match[str]) -> str:
        prefix, quote, raw_name = match.group(1), match.group(2), match.group(3)
        name = unquote(raw_name.split("?", 1)[0])
        data = self.files.get(name)
        kind = IMAGE_TYPES.get(name.rsplit(".", 1)[-1].lower()) if "." in name else None
        if data is None:
            self.warnings.append(f"the image {name!r} is not in the file and was removed")
        elif kind is None:
            self.warnings.append(f"the file {name!r} is not a PNG, JPEG, GIF or WebP image "
                                 "and was removed")
        elif len(data) > MAX_IMAGE_BYTES:
            self.warnings.append(f"the image {name!r} is larger than "
                                 f"{MAX_IMAGE_BYTES // 1024} kB and was removed")
        else:
            header = f"data:image/{kind};base64,"
            # The URI's length, known before encoding, so a refused image costs nothing.
            size = len(header) + 4 * ((len(data) + 2) // 3)
            if self.embedded + size > MAX_QUESTION_IMAGE_BYTES:
                self.warnings.append(
                    f"images beyond {MAX_QUESTION_IMAGE_BYTES // 1024 // 1024} MB in one question "
                    "(counting every time an image is shown) were removed")
            elif size > self.budget.remaining:
                self.warnings.append(
                    f"images beyond {MAX_IMPORT_IMAGE_BYTES // 1024 // 1024} MB in one import "
                    "were removed")
            else:
                self.embedded += size
                self.budget.remaining -= size
                uri = header + base64.b64encode(data).decode("ascii")
                return f"{prefix}{quote}{uri}{quote}"
        return f"{prefix}{quote}{quote}"


def clean_html(markup: str) -> str:
    """Sanitise one HTML fragment that has no embedded files (warnings are discarded); HTML
    nested too deeply to sanitise (an item stored before the limit) is shown as its text."""
    try:
        return Cleaner().html(markup)
    except QuestionError:
        return html.escape(re.sub(r"<[^<>]*>", " ", markup or ""))
