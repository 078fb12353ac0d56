"""Display math written inside a sentence keeps the paragraph whole."""

from paperboy.web.markup import render_comment


def test_inline_display_math_is_a_span_inside_the_paragraph() -> None:
    html = str(render_comment("see $$x^2 < y$$ here"))
    assert html.strip() == '<p>see <span class="math block">x^2 &lt; y</span> here</p>'
