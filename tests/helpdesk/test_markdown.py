"""People's text is markdown, rendered so that nothing they type runs in another's browser."""

from html.parser import HTMLParser

import pytest

from helpdesk.markdown import ALLOWED_TAGS, render_markdown


class Elements(HTMLParser):
    """The elements and attributes a browser would build from the HTML."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.found.append((tag, dict(attrs)))


def test_it_formats_what_people_type() -> None:
    html = render_markdown("**Down** since `09:00`\n\n- Boston\n- Denver\n\n> quoted")
    assert "<strong>Down</strong>" in html
    assert "<code>09:00</code>" in html
    assert "<li>Boston</li>" in html
    assert "<blockquote>" in html


def test_it_keeps_line_breaks_typed_in_a_textarea() -> None:
    assert render_markdown("line one\nline two") == "<p>line one<br>\nline two</p>\n"


def test_it_makes_links_clickable_with_noopener_nofollow() -> None:
    html = render_markdown("See https://status.example.com/incident and [docs](https://x.test/d)")
    assert '<a href="https://status.example.com/incident" rel="noopener nofollow">' in html
    assert '<a href="https://x.test/d" rel="noopener nofollow">docs</a>' in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "hello <script src=https://evil.test/x.js></script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">click</a>',
        "<iframe src=https://evil.test></iframe>",
        '<div style="position:fixed">cover</div>',
        "<svg onload=alert(1)>",
    ],
)
def test_it_refuses_raw_html(text: str) -> None:
    html = render_markdown(text)
    for tag, attrs in Elements(html).found:
        assert tag in ALLOWED_TAGS
        assert not any(name.startswith("on") or name == "style" for name in attrs)
        assert not attrs.get("href", "").lower().startswith("javascript")
    assert {tag for tag, _ in Elements(html).found} <= {"p", "a"}
    assert "&lt;" in html  # shown as the text the person typed, not dropped silently


@pytest.mark.parametrize(
    "text",
    [
        "[click](javascript:alert(1))",
        "[click](JAVASCRIPT:alert(1))",
        "[click](  javascript:alert(1))",
        "[click](vbscript:msgbox)",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        "<javascript:alert(1)>",
        "![x](https://evil.test/pixel.png)",
    ],
)
def test_it_refuses_dangerous_links_and_images(text: str) -> None:
    for tag, attrs in Elements(render_markdown(text)).found:
        assert tag != "img"
        href = attrs.get("href", "").strip().lower()
        assert not href.startswith(("javascript:", "vbscript:", "data:"))


def test_it_renders_empty_text_as_nothing() -> None:
    assert render_markdown("") == ""
