"""The line as a flow picture: stations as boxes in flow order, coloured by their live state,
the buffers between them with their fill level, the bottleneck outlined. Pure: a LineView in,
a Plotly figure out (no store, no Dash).

Every shape is named (`station:<id>`, `buffer:<id>`, `buffer-fill:<id>`, `bottleneck`), so a
test or a reader of the figure finds what was drawn for which machine.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from dashboard import fmt
from dashboard.colors import STATE_COLORS
from dashboard.i18n import t
from dashboard.linedata import BufferView, LineView

UNKNOWN_COLOR = "#757575"  # no state stored yet (or a legacy machine before inference)
BUFFER_COLOR = "#455a64"
STEP = 2.0  # x distance between two stations; their buffer sits half way
PLOT_PX = 1300  # the figure's usual width on a plant manager's screen
BOX_W, BOX_Y0, BOX_Y1 = 0.55, 0.2, 0.8
TANK_W, TANK_Y0, TANK_Y1 = 0.26, 0.3, 0.7


def state_color(state: str | None) -> str:
    return STATE_COLORS.get(state or "", UNKNOWN_COLOR)


def buffer_label(buf: BufferView, lang: str) -> str:
    """3/10, ≈3/10 when the level may be up to 2 above the truth, ? when it cannot be told."""
    if buf.level is None:
        return "?"
    text = fmt.integer(buf.level, lang)
    if buf.capacity is not None:
        text += "/" + fmt.integer(buf.capacity, lang)
    return text if buf.exact else "≈" + text


def wrap_id(machine: str, width: int) -> str:
    """A machine id on as many lines as its box needs, broken after its dashes."""
    lines: list[str] = []
    for piece in machine.replace("-", "-\n").split("\n"):
        if lines and len(lines[-1]) + len(piece) <= width:
            lines[-1] += piece
        else:
            lines.append(piece)
    return "<br>".join(lines)


def buffer_fraction(buf: BufferView) -> float:
    if buf.level is None or not buf.capacity:
        return 0.0
    return min(1.0, buf.level / buf.capacity)


def line_figure(view: LineView, lang: str = "en") -> go.Figure:
    """One line, left to right in flow order."""
    fig = go.Figure()
    n = len(view.stations)
    shapes: list[dict[str, object]] = [
        # The conveyor the parts travel along, behind everything.
        {"type": "line", "x0": 0, "x1": STEP * max(n - 1, 0), "y0": 0.5, "y1": 0.5,
         "line": {"color": "#bdbdbd", "width": 3}, "layer": "below", "name": "flow"},
    ]  # fmt: skip
    notes: list[dict[str, object]] = []
    hover_x, hover_text = [], []
    size = 13 if n <= 6 else 11  # a long line's boxes are narrower
    # Characters that fit across a box on a figure about PLOT_PX wide (0.6 em per character).
    box_px = PLOT_PX * 2 * BOX_W / (STEP * max(n - 1, 0) + 2 * BOX_W + 0.6)
    width = max(6, int(box_px / (0.6 * size)))
    for i, st in enumerate(view.stations):
        x = STEP * i
        shapes.append(
            {"type": "rect", "x0": x - BOX_W, "x1": x + BOX_W, "y0": BOX_Y0, "y1": BOX_Y1,
             "fillcolor": state_color(st.state), "line": {"color": "white", "width": 1},
             "name": f"station:{st.machine}"}
        )  # fmt: skip
        state_word = t(f"state.{st.state}", lang) if st.state else "–"
        oee = fmt.percent(st.entry["oee"], lang) if st.entry else "–"
        notes.append(
            {"x": x, "y": 0.5, "showarrow": False, "font": {"color": "white", "size": size},
             "text": f"<b>{wrap_id(st.machine, width)}</b><br>{state_word}<br>{t('oee', lang)} {oee}"}
        )  # fmt: skip
        hover_x.append(x)
        # A reason is free text from telemetry, and Plotly reads <b>, <br>, <a href> in hover
        # text as markup: escaped, it shows as typed (Plotly turns &lt; back into <).
        reason = html.escape(fmt.reason(st.reason, lang), quote=False)
        hover_text.append(f"{st.machine}: {state_word}" + (f" ({reason})" if reason else ""))
        if st.machine == view.bottleneck:
            shapes.append(
                {"type": "rect", "x0": x - BOX_W - 0.06, "x1": x + BOX_W + 0.06,
                 "y0": BOX_Y0 - 0.06, "y1": BOX_Y1 + 0.06, "line": {"color": "#111", "width": 4,
                 "dash": "dash"}, "fillcolor": "rgba(0,0,0,0)", "name": "bottleneck"}
            )  # fmt: skip
            notes.append(
                {"x": x, "y": BOX_Y1 + 0.16, "showarrow": False, "font": {"size": 14, "color": "#111"},
                 "text": f"▼ <b>{t('bottleneck', lang)}</b>"}
            )  # fmt: skip
    for i, buf in enumerate(view.buffers):
        x = STEP * i + STEP / 2
        top = TANK_Y0 + (TANK_Y1 - TANK_Y0) * buffer_fraction(buf)
        shapes.append(
            {"type": "rect", "x0": x - TANK_W, "x1": x + TANK_W, "y0": TANK_Y0, "y1": TANK_Y1,
             "fillcolor": "white", "line": {"color": BUFFER_COLOR, "width": 2},
             "name": f"buffer:{buf.after}"}
        )  # fmt: skip
        shapes.append(
            {"type": "rect", "x0": x - TANK_W, "x1": x + TANK_W, "y0": TANK_Y0, "y1": top,
             "fillcolor": BUFFER_COLOR, "line": {"width": 0}, "name": f"buffer-fill:{buf.after}"}
        )  # fmt: skip
        notes.append(
            {"x": x, "y": TANK_Y0 - 0.1, "showarrow": False, "font": {"size": size},
             "text": buffer_label(buf, lang), "name": f"buffer-label:{buf.after}"}
        )  # fmt: skip
        hover_x.append(x)
        hover_text.append(f"{t('line.buffer', lang)} {buf.after} → {buffer_label(buf, lang)}")
    # Invisible points carry the hover text (shapes have none).
    fig.add_scatter(
        x=hover_x,
        y=[0.5] * len(hover_x),
        mode="markers",
        marker={"size": 40, "opacity": 0},
        hovertext=hover_text,
        hoverinfo="text",
        showlegend=False,
    )
    oee = fmt.percent(view.entry["oee"], lang) if view.entry else "–"
    fig.update_layout(
        title={"text": f"{t('line', lang)} {view.line} · {t('oee', lang)} {oee}", "x": 0.01},
        shapes=shapes,
        annotations=notes,
        xaxis={"visible": False, "range": [-BOX_W - 0.3, STEP * max(n - 1, 0) + BOX_W + 0.3]},
        yaxis={"visible": False, "range": [0, 1.15], "fixedrange": True},
        height=260,
        margin={"t": 40, "b": 10, "l": 10, "r": 10},
        plot_bgcolor="white",
        dragmode=False,
    )
    return fig
