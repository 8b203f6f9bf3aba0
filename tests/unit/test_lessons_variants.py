"""The precomputed-variant player and the offline scrub of exported lessons."""

from __future__ import annotations

import re

import pytest

from drillbook.lessons.offline import network_resources, strip_network_resources
from drillbook.lessons.variants import Variant, VariantPlayer, player_id, variants

PNG_A = b"\x89PNG\r\n\x1a\nA"
PNG_B = b"\x89PNG\r\n\x1a\nB"
PNG_C = b"\x89PNG\r\n\x1a\nC"


def test_player_shows_the_first_variant_and_hides_the_others() -> None:
    player = variants("SACK orders!", {"in order": PNG_A, "1,3,2": PNG_B, "3,2,1": PNG_C},
                      title="Arrival order")
    page = player.html()
    assert player.element_id == "drillbook-variants-sack-orders" == player_id("SACK orders!")
    figures = re.findall(r"<figure [^>]*>", page)
    assert len(figures) == 3
    assert "hidden" not in figures[0] and all("hidden" in f for f in figures[1:])
    assert page.count("data:image/png;base64,") == 3
    assert page.count('<button type="button"') == 3
    assert 'type="range"' in page and 'max="2"' in page


def test_player_needs_nothing_from_the_network() -> None:
    page = variants("p", {"a": PNG_A, "b": PNG_B}).html()
    assert network_resources(page) == []
    assert "<script src" not in page
    assert 'type="range"' not in page  # two variants: buttons are enough


def test_variant_digests_differ() -> None:
    a, b = Variant("a", PNG_A), Variant("b", PNG_B)
    assert a.digest != b.digest and len(a.digest) == 12


def test_variant_labels_are_escaped() -> None:
    page = VariantPlayer("x", (Variant("<b>", PNG_A),)).html()
    assert 'aria-pressed="true">&lt;b&gt;</button>' in page
    assert 'data-label="&lt;b&gt;"' in page


def test_unknown_values_are_refused() -> None:
    with pytest.raises(TypeError):
        variants("x", {"a": 42})


def test_strip_network_resources() -> None:
    page = (
        '<head><script src="https://cdn.example/require.js"></script>'
        "<script>var inline = 1; // https://not-a-load</script>"
        '<link rel="stylesheet" href="//fonts.example/x.css">'
        "<style>@import url('https://fonts.example/y.css');</style>"
        '<img src="https://example.org/a.png"><img src="data:image/png;base64,AA=="></head>'
    )
    found = network_resources(page)
    assert len(found) == 4
    clean = strip_network_resources(page)
    assert network_resources(clean) == []
    assert "var inline = 1" in clean and "data:image/png" in clean
