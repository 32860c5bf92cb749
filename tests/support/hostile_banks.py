"""A hostile corpus, written by the tests themselves: files that try XXE, entity bombs and
script injection through every HTML field of a Moodle XML question."""

from __future__ import annotations

from pathlib import Path

# HTML fragments that must lose their active parts; each with a marker that must never survive.
XSS = {
    "script": ("<p>two<script>alert('x')</script></p>", "alert("),
    "onerror": ('<img src="data:image/png;base64,iVBORw0KGgo=" onerror="alert(1)">', "onerror"),
    "onclick": ('<p onclick="steal()">click</p>', "onclick"),
    "javascript": ('<a href="javascript:alert(1)">link</a>', "javascript:"),
    "svg": ('<svg onload="alert(1)"><circle r="1"/></svg>', "<svg"),
    "iframe": ('<iframe src="https://evil.example/"></iframe>', "<iframe"),
    "style": ("<style>body{display:none}</style><p style=\"color:red\">s</p>", "style"),
    "object": ('<object data="x.swf"></object><embed src="x.swf">', "swf"),
    "remote_img": ('<img src="https://evil.example/track.png">', "evil.example"),
    "form": ('<form action="https://evil.example"><input name="p"></form>', "<form"),
    "meta": ('<meta http-equiv="refresh" content="0;url=https://evil.example">', "refresh"),
}


def xxe(secret: Path) -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE quiz [<!ENTITY xxe SYSTEM "file://{secret}">]>
<quiz><question type="truefalse"><name><text>&xxe;</text></name>
<questiontext format="html"><text>&xxe;</text></questiontext>
<answer fraction="100"><text>true</text></answer><answer fraction="0"><text>false</text></answer>
</question></quiz>""".encode()


def billion_laughs() -> bytes:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    return f"""<?xml version="1.0"?>
<!DOCTYPE quiz [{"".join(levels)}]>
<quiz><question type="truefalse"><name><text>&lol9;</text></name>
<questiontext><text>&lol9;</text></questiontext></question></quiz>""".encode()


def _text(tag: str, html: str) -> str:
    return f'<{tag} format="html"><text><![CDATA[{html}]]></text></{tag}>'


def injected_moodle_xml() -> bytes:
    """One multiple choice question per XSS case, the payload in every HTML field."""
    questions = []
    for n, (html, _marker) in enumerate(XSS.values()):
        questions.append(f"""<question type="multichoice"><name><text>Hostile {n}</text></name>
  {_text("questiontext", "What is 1 + 1? " + html)}
  {_text("generalfeedback", html)}
  {_text("correctfeedback", html)}
  {_text("incorrectfeedback", html)}
  <single>true</single>
  <answer fraction="100" format="html"><text><![CDATA[2 {html}]]></text>
    {_text("feedback", html)}</answer>
  <answer fraction="0" format="html"><text>3</text></answer>
  {_text("hint", html)}
  {_text("solution", html)}
</question>""")
    return f'<?xml version="1.0" encoding="UTF-8"?><quiz>{"".join(questions)}</quiz>'.encode()


def oversized_moodle_xml(size: int) -> bytes:
    head = b'<?xml version="1.0"?><quiz><!-- '
    tail = b" --></quiz>"
    return head + b"x" * (size - len(head) - len(tail)) + tail


def image_flood_moodle_xml(questions: int, references: int, image_bytes: int) -> bytes:
    """`questions` true/false questions, each embedding one `image_bytes` PNG and naming it
    `references` times, spread over the text, the general feedback and a hint."""
    import base64

    data = base64.b64encode(b"\x89PNG" + b"\0" * (image_bytes - 4)).decode("ascii")
    img = '<img src="@@PLUGINFILE@@/a.png">'
    third = img * (references // 3)
    body = []
    for n in range(questions):
        body.append(f"""<question type="truefalse"><name><text>Flood {n}</text></name>
  <questiontext format="html"><text><![CDATA[Look. {third}{img * (references % 3)}]]></text>
    <file name="a.png" path="/" encoding="base64">{data}</file></questiontext>
  {_text("generalfeedback", third)}
  {_text("hint", third)}
  <answer fraction="100"><text>true</text></answer><answer fraction="0"><text>false</text></answer>
</question>""")
    return f'<?xml version="1.0" encoding="UTF-8"?><quiz>{"".join(body)}</quiz>'.encode()
