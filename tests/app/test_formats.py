"""The format table against the published figures it cites (issue 11)."""

from __future__ import annotations

import pytest
from passport_app.formats import FORMATS, parse_format

INCH = 25.4

#: (print size mm, head chin-to-crown mm, eye line from the bottom mm or None, source host)
PUBLISHED = {
    # travel.state.gov: 2x2 in; head 1 to 1 3/8 in; eyes 1 1/8 to 1 3/8 in from the bottom.
    "us": (
        (2 * INCH, 2 * INCH),
        (1 * INCH, 1.375 * INCH),
        (1.125 * INCH, 1.375 * INCH),
        "travel.state.gov",
    ),
    # ICAO Doc 9303 Part 3 / Schengen: 35x45 mm; chin to crown 32-36 mm (70-80 %).
    "eu": ((35, 45), (32, 36), None, "icao.int"),
    # gov.uk: 45 mm high by 35 mm wide; crown to chin 29-34 mm.
    "uk": ((35, 45), (29, 34), None, "gov.uk"),
    # canada.ca: 50 mm wide x 70 mm high; chin to crown 31-36 mm.
    "ca": ((50, 70), (31, 36), None, "canada.ca"),
}


def test_every_published_format_is_in_the_table_and_nothing_else() -> None:
    assert set(FORMATS) == set(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_format_matches_its_cited_figures(name: str) -> None:
    fmt = FORMATS[name]
    (w_mm, h_mm), head_mm, eyes_mm, host = PUBLISHED[name]
    assert (fmt.width_mm, fmt.height_mm) == pytest.approx((w_mm, h_mm))
    assert fmt.head_mm == pytest.approx(head_mm)
    assert (fmt.eyes_mm is None) == (eyes_mm is None)
    if eyes_mm is not None:
        assert fmt.eyes_mm == pytest.approx(eyes_mm)
    assert host in fmt.source and fmt.source.startswith("https://")
    # 300 dpi output, aspect kept to the pixel
    assert fmt.width == round(w_mm / INCH * 300) and fmt.height == round(h_mm / INCH * 300)
    low, high = fmt.head_range
    assert low == pytest.approx(head_mm[0] / h_mm) and high == pytest.approx(head_mm[1] / h_mm)
    assert low < fmt.head_fraction < high


def test_us_rule_in_percent_is_the_published_50_to_69() -> None:
    low, high = FORMATS["us"].head_range
    assert (round(low * 100), round(high * 100)) == (50, 69)
    eye_low, eye_high = FORMATS["us"].eye_range
    assert (round(eye_low * 100), round(eye_high * 100)) == (56, 69)


@pytest.mark.parametrize("value", ["us", "EU", " uk ", "ca"])
def test_format_accepts_each_key(value: str) -> None:
    assert parse_format(value).name == value.strip().lower()
