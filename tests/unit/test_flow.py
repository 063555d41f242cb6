"""The line's flow figure (dashboard/flow.py): what is drawn where, in which colour, labelled
how, in both languages."""

from __future__ import annotations

from dashboard.colors import STATE_COLORS
from dashboard.flow import UNKNOWN_COLOR, buffer_label, line_figure, wrap_id
from dashboard.linedata import BufferView, LineView, StationView, longest_down


def entry(oee: float) -> dict[str, float]:
    return {"oee": oee}


VIEW = LineView(
    line="machining-1",
    stations=[
        StationView("cnc-01", "running", "", 1000, entry(0.75)),
        StationView("cnc-02", "down", "tool_breakage", 2000, entry(0.5)),
        StationView("leak-test-01", "starved", "waiting for cnc-02", 3000, entry(0.25)),
        StationView("pack-01", None, "", None, None),
    ],
    buffers=[
        BufferView("cnc-01", 10, 10),
        BufferView("cnc-02", 2, 8, exact=False),
        BufferView("leak-test-01", None, 6),
    ],
    entry=entry(0.612),
    bottleneck="cnc-02",
)


def shapes(fig) -> dict[str, dict]:
    return {s.name: s.to_plotly_json() for s in fig.layout.shapes}


def test_stations_in_flow_order_coloured_by_state():
    got = shapes(line_figure(VIEW))
    boxes = [got[f"station:{s.machine}"] for s in VIEW.stations]
    centres = [(b["x0"] + b["x1"]) / 2 for b in boxes]
    assert centres == sorted(centres) and len(set(centres)) == 4
    assert [b["fillcolor"] for b in boxes] == [
        STATE_COLORS["running"],
        STATE_COLORS["down"],
        STATE_COLORS["starved"],
        UNKNOWN_COLOR,  # no state stored yet
    ]
    # Each buffer sits between the station that fills it and the next one.
    for i, buf in enumerate(VIEW.buffers):
        tank = got[f"buffer:{buf.after}"]
        assert centres[i] < (tank["x0"] + tank["x1"]) / 2 < centres[i + 1]


def test_buffer_fill_is_the_level_over_the_capacity():
    got = shapes(line_figure(VIEW))
    for buf, share in (("cnc-01", 1.0), ("cnc-02", 2 / 8), ("leak-test-01", 0.0)):
        tank, fill = got[f"buffer:{buf}"], got[f"buffer-fill:{buf}"]
        height = (fill["y1"] - fill["y0"]) / (tank["y1"] - tank["y0"])
        assert abs(height - share) < 1e-9, buf


def test_bottleneck_outlines_its_station_and_is_labelled():
    fig = line_figure(VIEW)
    got = shapes(fig)
    outline, box = got["bottleneck"], got["station:cnc-02"]
    assert outline["x0"] < box["x0"] and outline["x1"] > box["x1"]
    assert outline["y0"] < box["y0"] and outline["y1"] > box["y1"]
    texts = [a.text for a in fig.layout.annotations]
    assert any("Bottleneck" in x for x in texts)
    assert not any("Điểm nghẽn" in x for x in texts)
    assert any("Điểm nghẽn" in a.text for a in line_figure(VIEW, "vi").layout.annotations)
    # No bottleneck known: no outline.
    plain = LineView(VIEW.line, VIEW.stations, VIEW.buffers, None, None)
    assert "bottleneck" not in shapes(line_figure(plain))


def test_labels_follow_the_language():
    en = [a.text for a in line_figure(VIEW).layout.annotations]
    vi = [a.text for a in line_figure(VIEW, "vi").layout.annotations]
    assert any("Running" in x and "OEE 75.0%" in x for x in en)
    assert any("Đang chạy" in x and "OEE 75,0%" in x for x in vi)
    assert any("Hỏng" in x for x in vi)
    assert "61.2%" in line_figure(VIEW).layout.title.text
    assert "61,2%" in line_figure(VIEW, "vi").layout.title.text
    # Reasons reach the hover text as words in the page's language, never as a token.
    hover = " ".join(line_figure(VIEW, "vi").data[0].hovertext)
    assert "tool_breakage" not in hover and "chờ cnc-02" in hover


def test_buffer_labels():
    assert buffer_label(BufferView("a", 3, 10), "en") == "3/10"
    assert buffer_label(BufferView("a", 3, None), "en") == "3"
    assert buffer_label(BufferView("a", 3, 10, exact=False), "en") == "≈3/10"
    assert buffer_label(BufferView("a", None, 10), "en") == "?"
    assert buffer_label(BufferView("a", 1234, 2000), "vi") == "1.234/2.000"


def test_longest_down():
    view = LineView(
        "l",
        [
            StationView("a", "down", "x", 60_000, None),
            StationView("b", "down", "y", 30_000, None),
            StationView("c", "running", "", 0, None),
        ],
        [],
        None,
        None,
    )
    got = longest_down(view, 30_000 + 5 * 60_000)
    assert got is not None
    station, minutes = got
    assert station.machine == "b" and abs(minutes - 5.0) < 1e-9
    assert longest_down(LineView("l", [view.stations[2]], [], None, None), 0) is None


def test_long_ids_wrap_after_their_dashes_to_fit_a_box():
    assert wrap_id("l01-s3-injection-molding", 12) == "l01-s3-<br>injection-<br>molding"
    assert wrap_id("cnc-01", 12) == "cnc-01"
    # A line of nine stations has narrower boxes than one of four: its long ids wrap.
    long = LineView(
        "l", [StationView(f"l01-s{i}-injection-molding", "running", "", 0, None) for i in range(9)],
        [], None, None,
    )  # fmt: skip
    assert all("<br>" in a.text.split("</b>")[0] for a in line_figure(long).layout.annotations)


def test_a_reason_reaches_the_hover_as_text_never_markup():
    # Reasons are free text from telemetry; Plotly would draw <b> bold and <a href> as a link.
    evil = '<a href="https://example.com">call</a> <b>jam</b> & <br>'
    view = LineView(
        "l", [StationView("cnc-01", "down", evil, 0, None)], [], None, None
    )  # fmt: skip
    hover = line_figure(view).data[0].hovertext[0]
    assert "<" not in hover and ">" not in hover.replace("→", "")
    # Plotly turns the entities back into the characters: the reason shows as typed.
    shown = hover.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert shown.endswith(f"({evil})")
