"""What-if (issue 11): test a change on the model of the running plant before making it.

Base: the dashboard's plant config (--config). A scenario is a few station parameters set
(a list of values sweeps them), or an uploaded scenario file (docs/whatif.md); "Which machine
first?" runs the sensitivity experiment instead. The experiment runs as a `shopfloor whatif`
subprocess (dashboard/whatif_jobs.py), one at a time, polled by the page; its comparison is
drawn by dashboard/whatif_figures.py. "Apply to the live plant" sends the chosen scenario's
live parameters to the running simulator as `set` commands (shopfloor.commands).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import defaultdict
from typing import Any

import dash
import yaml
from dash import ALL, Input, Output, State, callback, dcc, html, no_update
from dash import ctx as dash_ctx

from dashboard import fmt, ids, replies, whatif_figures
from dashboard.context import DashContext, context
from dashboard.i18n import t
from dashboard.whatif_jobs import MAX_SCENARIOS, Bounds, Busy, Job, check_bounds, jobs
from shopfloor.commands import set_params
from shopfloor.config import ConfigError
from shopfloor.config.load import _Loader
from shopfloor.config.overrides import TooManyScenarios, expand, sensitivity_count
from shopfloor.config.schema import PlantConfig
from shopfloor.timeparse import parse_duration

dash.register_page(__name__, path="/whatif", name="What-if", order=5)

N_ROWS = 4
# What the editor offers: the sensitivity parameters and the other live ones worth a try.
EDIT_PARAMS: tuple[str, ...] = (
    "mttr_min",
    "mtbf_min",
    "cycle_s.mean",
    "cycle_s.cv",
    "scrap_rate",
    "buffer",
)
SENSITIVITY_PCT = 10.0
DEFAULTS = {"duration": "7d", "warmup": "1d", "replications": 5}
POLL_MS = 1000
# An uploaded scenario file's bound: a real one is a few kB. The browser refuses to send more
# than UPLOAD_REFUSED_BYTES; up to it the server answers with a message, and never decodes or
# parses a file over MAX_UPLOAD_BYTES (PyYAML reads about a MB a second, in a request thread).
MAX_UPLOAD_BYTES = 1024 * 1024
UPLOAD_REFUSED_BYTES = 8 * MAX_UPLOAD_BYTES


def _label(key: str, tag: Any = html.Span, **kw: Any) -> Any:
    """A static text, re-rendered in the page's language by `labels` below."""
    return tag(t(key, "en"), id={"type": ids.WHATIF_LABELS, "key": key}, **kw)


def _param_options(lang: str) -> list[dict[str, str]]:
    return [{"label": fmt.param(p, lang), "value": p} for p in EDIT_PARAMS]


def layout(**_: Any) -> html.Div:
    ctx = context()
    if ctx.cfg is None:
        return html.Div(id=ids.WHATIF_BASE, className="message")
    stations = [st.id for _line, st in ctx.cfg.stations()]
    rows = [
        html.Div(
            [
                dcc.Dropdown(
                    id={"type": ids.WHATIF_ROW_STATION, "index": i},
                    options=stations,
                    value=stations[0] if i == 0 and stations else None,
                    className="wi-station",
                ),
                dcc.Dropdown(
                    id={"type": ids.WHATIF_ROW_PARAM, "index": i},
                    options=_param_options("en"),
                    value="mttr_min" if i == 0 else None,
                    className="wi-param",
                ),
                dcc.Input(
                    id={"type": ids.WHATIF_ROW_VALUE, "index": i},
                    type="text",
                    debounce=False,
                    className="form-control form-control-sm whatif-value",
                ),
            ],
            className="wi-row whatif-row",
        )
        for i in range(N_ROWS)
    ]
    return html.Div(
        [
            html.Div(id=ids.WHATIF_BASE, className="whatif-base"),
            dcc.RadioItems(
                id=ids.WHATIF_SOURCE,
                options=_source_options("en"),
                value="editor",
                inline=True,
                inputClassName="form-check-input",
                labelClassName="form-check-label me-3",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            _label("whatif.name", html.Label),
                            dcc.Input(id=ids.WHATIF_NAME, type="text", maxLength=200),
                        ],
                        className="wi-row wi-name",
                    ),
                    *rows,
                    _label("whatif.value_hint", html.Div, className="whatif-note"),
                ],
                className="whatif-editor",
            ),
            dcc.Upload(
                id=ids.WHATIF_UPLOAD,
                children=_label("whatif.upload", html.Div),
                accept=".yaml,.yml",
                max_size=UPLOAD_REFUSED_BYTES,
                className="whatif-upload",
            ),
            dcc.Store(id=ids.WHATIF_FILE),
            html.Div(id=ids.WHATIF_FILE_NOTE, className="whatif-info"),
            html.Pre(id=ids.WHATIF_FILE_ERRORS, className="whatif-errors"),
            html.Div(
                [
                    html.Div(
                        [
                            _label("whatif.duration", html.Label),
                            dcc.Input(
                                id=ids.WHATIF_DURATION, type="text", value=DEFAULTS["duration"]
                            ),
                        ],
                        className="wi-field",
                    ),
                    html.Div(
                        [
                            _label("whatif.warmup", html.Label),
                            dcc.Input(id=ids.WHATIF_WARMUP, type="text", value=DEFAULTS["warmup"]),
                        ],
                        className="wi-field",
                    ),
                    html.Div(
                        [
                            _label("whatif.replications", html.Label),
                            dcc.Input(
                                id=ids.WHATIF_REPS,
                                type="number",
                                min=2,
                                step=1,
                                value=DEFAULTS["replications"],
                            ),
                        ],
                        className="wi-field",
                    ),
                ],
                className="wi-row",
            ),
            _label("whatif.duration_hint", html.Div, className="whatif-note"),
            html.Div(
                [
                    html.Button(_label("whatif.launch"), id=ids.WHATIF_LAUNCH),
                    html.Button(_label("whatif.which_first"), id=ids.WHATIF_SENSITIVITY),
                    html.Button(_label("whatif.stop"), id=ids.WHATIF_STOP),
                ],
                className="wi-row wi-buttons",
            ),
            html.Div(id=ids.WHATIF_MESSAGE, className="whatif-info"),
            html.Pre(id=ids.WHATIF_ERRORS, className="whatif-errors"),
            html.Progress(id=ids.WHATIF_PROGRESS, max=1, value=0, style={"display": "none"}),
            html.Div(id=ids.WHATIF_STATUS),
            dcc.RadioItems(
                id=ids.WHATIF_METRIC,
                options=_metric_options("en"),
                value="throughput_per_h",
                inline=True,
                inputClassName="form-check-input",
                labelClassName="form-check-label me-3",
            ),
            html.Div(id=ids.WHATIF_RESULTS),
            html.Div(
                [
                    html.H4(_label("whatif.apply_title")),
                    dcc.Dropdown(id=ids.WHATIF_APPLY_PICK, options=[], style={"width": "30em"}),
                    html.Button(_label("whatif.apply"), id=ids.WHATIF_APPLY_GO),
                    html.Div(id=ids.WHATIF_APPLY_RESULT),
                ],
                id=ids.WHATIF_APPLY_BOX,
                style={"display": "none"},
            ),
            dcc.Store(id=ids.WHATIF_SHOWN),
            dcc.Interval(id=ids.WHATIF_POLL, interval=POLL_MS, disabled=False),
        ],
        className="whatif-page",
    )


def _source_options(lang: str) -> list[dict[str, str]]:
    return [
        {"label": t("whatif.source.editor", lang), "value": "editor"},
        {"label": t("whatif.source.file", lang), "value": "file"},
    ]


def _metric_options(lang: str) -> list[dict[str, str]]:
    return [
        {"label": whatif_figures.metric_label(m, lang), "value": m} for m in whatif_figures.METRICS
    ]


# -- building the experiment -------------------------------------------------------------------


def parse_values(text: str | None) -> list[float | int] | None:
    """A row's value: one number, or several separated by `;` (a sweep). A decimal comma is
    read as a point (1,5 = 1.5). None when any item is not a number."""
    items = [s.strip() for s in (text or "").split(";") if s.strip()]
    out: list[float | int] = []
    for item in items:
        try:
            v = float(item.replace(",", "."))
        except ValueError:
            return None
        if v != v or v in (float("inf"), float("-inf")):
            return None
        out.append(int(v) if v.is_integer() else v)
    return out or None


def editor_scenario(
    name: str | None,
    stations: list[str | None],
    params: list[str | None],
    values: list[str | None],
) -> tuple[dict[str, Any] | None, list[tuple[str, dict[str, Any]]]]:
    """The editor's rows as a scenario file's data, or the problems (catalogue key, its
    fields) naming the row."""
    sets: dict[str, Any] = {}
    problems: list[tuple[str, dict[str, Any]]] = []
    for i, (st, param, text) in enumerate(zip(stations, params, values, strict=True)):
        if not (text or "").strip():
            continue
        if not st or not param:
            problems.append(("whatif.err.row_incomplete", {"row": i + 1}))
            continue
        vals = parse_values(text)
        if vals is None:
            problems.append(("whatif.err.row_value", {"row": i + 1, "value": text}))
            continue
        path = f"stations.{st}.{param}"
        if path in sets:
            problems.append(("whatif.err.row_twice", {"row": i + 1}))
            continue
        sets[path] = vals[0] if len(vals) == 1 else vals
    if not sets and not problems:
        problems.append(("whatif.err.no_rows", {}))
    if problems:
        return None, problems
    scenario: dict[str, Any] = {"set": sets}
    if (name or "").strip():
        scenario = {"name": name.strip(), **scenario}  # type: ignore[union-attr]
    return {"scenarios": [scenario]}, []


def file_scenarios(text: str) -> tuple[Any, str | None]:
    """An uploaded scenario file's data, or its YAML error. Read as the CLI reads it (the
    config's YAML 1.2 loader): YAML 1.1's safe_load reads an unquoted 13:30 as 810 and a
    power_kw key `off` as False, so the page judged another file than the CLI runs."""
    try:
        return yaml.load(text, Loader=_Loader), None  # _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return None, f"{where}YAML syntax error: {getattr(exc, 'problem', None) or exc}"


def key_path_errors(cfg: PlantConfig, data: Any, source: str) -> tuple[int, list[str]]:
    """(number of scenarios with the baseline, []) or (0, every key-path error), by the same
    rules as `shopfloor whatif` (shopfloor/config/overrides.py). Sweeps that make more than
    the page's bound are counted, not made (a few sweeps multiply into millions): their
    count comes back, for check_bounds to refuse."""
    try:
        return len(expand(cfg, data, source, max_scenarios=MAX_SCENARIOS)), []
    except TooManyScenarios as exc:
        return exc.count, []
    except ConfigError as exc:
        return 0, list(exc.errors)


def config_yaml(cfg: PlantConfig) -> str:
    """The running plant's config as the subprocess reads it (the keys as given, so the
    scenario rules see what the config file said)."""
    data = cfg.model_dump(mode="json", exclude_unset=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def duration(text: str | None, zero_ok: bool = False) -> float | None:
    text = (text or "").strip()
    if zero_ok and text in ("0", "0s", "0m", "0h", "0d"):
        return 0.0
    try:
        return parse_duration(text)
    except ValueError:
        return None


def bounds_text(b: Bounds, lang: str) -> str:
    if b.field in ("duration", "warmup"):
        return t(f"whatif.err.{b.field}_max", lang).format(limit=fmt.decimal(b.limit / 86400, lang))
    if b.field == "replications":
        return t("whatif.err.replications", lang).format(low=2, high=int(b.limit))
    if b.field == "scenarios":
        return t("whatif.err.scenarios", lang).format(
            n=fmt.integer(b.got, lang), limit=fmt.integer(b.limit, lang)
        )
    return t("whatif.err.total", lang).format(
        days=fmt.integer(b.got, lang), limit=fmt.integer(b.limit, lang)
    )


def launch(
    ctx: DashContext,
    trigger: str | None,
    source: str | None,
    name: str | None,
    stations: list[str | None],
    params: list[str | None],
    values: list[str | None],
    file: dict[str, str] | None,
    duration_text: str | None,
    warmup_text: str | None,
    reps: Any,
    lang: str,
) -> tuple[str, str]:
    """(message, key-path errors) for Launch or 'Which machine first?'."""
    cfg = ctx.cfg
    if cfg is None:
        return t("whatif.no_config", lang), ""
    running = jobs().status()
    if running is not None and not running.finished:
        return t("whatif.err.busy", lang), ""  # said first: whatever is typed cannot run now
    problems: list[str] = []
    dur = duration(duration_text)
    if dur is None:
        problems.append(t("whatif.err.duration", lang).format(value=duration_text or ""))
    warm = duration(warmup_text, zero_ok=True)
    if warm is None:
        problems.append(t("whatif.err.warmup", lang).format(value=warmup_text or ""))
    try:
        n_reps = int(reps)
        if n_reps != reps:
            raise ValueError
    except (TypeError, ValueError):
        n_reps = 0
        problems.append(t("whatif.err.replications", lang).format(low=2, high=30))
    errors: list[str] = []
    scenarios_yaml: str | None = None
    if trigger == ids.WHATIF_SENSITIVITY:
        n_scenarios = sensitivity_count(cfg, SENSITIVITY_PCT)  # counted, not made
    else:
        if source == "file":
            if not file:
                return t("whatif.err.no_file", lang), ""
            data, yaml_error = file_scenarios(file["text"])
            if yaml_error is not None:
                return t("whatif.err.scenarios_bad", lang).format(n=1), yaml_error
            origin = file.get("name") or "scenarios"
        else:
            data, row_problems = editor_scenario(name, stations, params, values)
            problems += [t(key, lang).format(**kw) for key, kw in row_problems]
            origin = "scenario"
        n_scenarios = 0
        if data is not None:
            n_scenarios, errors = key_path_errors(cfg, data, origin)
            scenarios_yaml = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        if errors:
            problems.append(t("whatif.err.scenarios_bad", lang).format(n=len(errors)))
    if problems:
        return " ".join(problems), "\n".join(errors)
    assert dur is not None and warm is not None
    too_big = check_bounds(dur, warm, n_reps, n_scenarios)
    if too_big:
        return " ".join(bounds_text(b, lang) for b in too_big), ""
    try:
        jobs().start(
            config_yaml(cfg),
            scenarios_yaml=scenarios_yaml if trigger != ids.WHATIF_SENSITIVITY else None,
            sensitivity_pct=SENSITIVITY_PCT if trigger == ids.WHATIF_SENSITIVITY else None,
            duration_s=dur,
            warmup_s=warm,
            replications=n_reps,
        )
    except Busy:
        return t("whatif.err.busy", lang), ""
    return t("whatif.started", lang).format(n=fmt.integer(n_scenarios * n_reps, lang)), ""


# -- callbacks ---------------------------------------------------------------------------------


@callback(
    Output(ids.WHATIF_MESSAGE, "children"),
    Output(ids.WHATIF_ERRORS, "children"),
    Output(ids.WHATIF_POLL, "disabled", allow_duplicate=True),
    Input(ids.WHATIF_LAUNCH, "n_clicks"),
    Input(ids.WHATIF_SENSITIVITY, "n_clicks"),
    Input(ids.WHATIF_STOP, "n_clicks"),
    State(ids.WHATIF_SOURCE, "value"),
    State(ids.WHATIF_NAME, "value"),
    State({"type": ids.WHATIF_ROW_STATION, "index": ALL}, "value"),
    State({"type": ids.WHATIF_ROW_PARAM, "index": ALL}, "value"),
    State({"type": ids.WHATIF_ROW_VALUE, "index": ALL}, "value"),
    State(ids.WHATIF_FILE, "data"),
    State(ids.WHATIF_DURATION, "value"),
    State(ids.WHATIF_WARMUP, "value"),
    State(ids.WHATIF_REPS, "value"),
    State(ids.LANG, "value"),
    prevent_initial_call=True,
)
def go(
    _launch: Any,
    _sens: Any,
    _stop: Any,
    source: str | None,
    name: str | None,
    stations: list[str | None],
    params: list[str | None],
    values: list[str | None],
    file: dict[str, str] | None,
    duration_text: str | None,
    warmup_text: str | None,
    reps: Any,
    lang: str | None,
) -> tuple[str, str, bool]:
    lang = lang or "en"
    trigger = dash_ctx.triggered_id
    if trigger == ids.WHATIF_STOP:
        stopped = jobs().cancel()
        return t("whatif.stopped" if stopped else "whatif.nothing_running", lang), "", False
    message, errors = launch(context(), trigger, source, name, stations, params, values, file,
                             duration_text, warmup_text, reps, lang)  # fmt: skip
    return message, errors, False


@callback(
    Output(ids.WHATIF_FILE, "data"),
    Output(ids.WHATIF_FILE_NOTE, "children"),
    Output(ids.WHATIF_FILE_ERRORS, "children"),
    Output(ids.WHATIF_SOURCE, "value"),
    Input(ids.WHATIF_UPLOAD, "contents"),
    State(ids.WHATIF_UPLOAD, "filename"),
    State(ids.LANG, "value"),
    prevent_initial_call=True,
)
def upload(contents: str | None, filename: str | None, lang: str | None) -> tuple[Any, ...]:
    """An uploaded scenario file, checked at once with the experiment's own rules."""
    lang = lang or "en"
    cfg = context().cfg
    if not contents or cfg is None:
        return None, "", "", no_update
    payload = contents.split(",", 1)[-1]
    # Its size from the base64 text alone (3 bytes per 4 characters, less the padding).
    if len(payload) * 3 // 4 - payload[-2:].count("=") > MAX_UPLOAD_BYTES:
        note = t("whatif.err.too_large", lang).format(
            file=filename or "", limit=fmt.integer(MAX_UPLOAD_BYTES // 1024, lang)
        )
        return None, note, "", "file"
    try:
        text = base64.b64decode(payload).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, t("whatif.err.not_text", lang).format(file=filename or ""), "", "file"
    name = filename or "scenarios.yaml"
    data, yaml_error = file_scenarios(text)
    if yaml_error is not None:
        note = t("whatif.err.scenarios_bad", lang).format(n=1)
        return {"name": name, "text": text}, note, yaml_error, "file"
    n, errors = key_path_errors(cfg, data, name)
    if errors:
        note = t("whatif.err.scenarios_bad", lang).format(n=len(errors))
        return {"name": name, "text": text}, note, "\n".join(errors), "file"
    if n > MAX_SCENARIOS:
        note = bounds_text(Bounds("scenarios", MAX_SCENARIOS, n), lang)
        return {"name": name, "text": text}, note, "", "file"
    note = t("whatif.file_ok", lang).format(file=name, n=fmt.integer(n - 1, lang))
    return {"name": name, "text": text}, note, "", "file"


def status_text(job: Job, lang: str) -> str:
    if job.state == "running":
        if job.total is None:
            return t("whatif.status.starting", lang)
        return t("whatif.status.running", lang).format(
            done=fmt.integer(job.done, lang), total=fmt.integer(job.total, lang)
        )
    if job.state == "done":
        text = t("whatif.status.done", lang).format(total=fmt.integer(job.total or 0, lang))
        if job.failed_runs:
            text += " " + t("whatif.status.some_failed", lang).format(
                n=fmt.integer(job.failed_runs, lang)
            )
        return text
    if job.state == "stopped":
        return t("whatif.status.stopped", lang)
    return t("whatif.status.failed", lang)


def span(seconds: float, lang: str) -> str:
    """A simulated span in days, or in hours below a day."""
    if seconds >= 86400:
        return t("whatif.span.days", lang).format(n=fmt.decimal(seconds / 86400, lang, 2))
    return t("whatif.span.hours", lang).format(n=fmt.decimal(seconds / 3600, lang, 2))


def results_view(doc: dict[str, Any], metric: str, lang: str) -> list[Any]:
    """The comparison: bars per scenario and the paired differences (scenario runs), or the
    tornado (a sensitivity run)."""
    exp = doc["experiment"]
    note = t("whatif.result_note", lang).format(
        n=fmt.integer(exp["replications"], lang),
        duration=span(exp["duration_s"], lang),
        warmup=span(exp["warmup_s"], lang),
    )
    out: list[Any] = [html.P(note, className="whatif-note")]
    if doc.get("kind") == "sensitivity":
        out.append(
            dcc.Graph(id=ids.WHATIF_TORNADO, figure=whatif_figures.tornado(doc, metric, lang))
        )
        return out
    out += [
        dcc.Graph(id=ids.WHATIF_BARS, figure=whatif_figures.scenario_bars(doc, metric, lang)),
        dcc.Graph(id=ids.WHATIF_DIFFS, figure=whatif_figures.paired_diffs(doc, metric, lang)),
    ]
    return out


@callback(
    Output(ids.WHATIF_STATUS, "children"),
    Output(ids.WHATIF_PROGRESS, "value"),
    Output(ids.WHATIF_PROGRESS, "max"),
    Output(ids.WHATIF_PROGRESS, "style"),
    Output(ids.WHATIF_RESULTS, "children"),
    Output(ids.WHATIF_APPLY_PICK, "options"),
    Output(ids.WHATIF_APPLY_PICK, "value"),
    Output(ids.WHATIF_APPLY_BOX, "style"),
    Output(ids.WHATIF_SHOWN, "data"),
    Output(ids.WHATIF_ERRORS, "children", allow_duplicate=True),
    Output(ids.WHATIF_POLL, "disabled"),
    Input(ids.WHATIF_POLL, "n_intervals"),
    Input(ids.WHATIF_METRIC, "value"),
    Input(ids.LANG, "value"),
    State(ids.WHATIF_SHOWN, "data"),
    prevent_initial_call="initial_duplicate",
)
def poll(_n: Any, metric: str | None, lang: str | None, shown: str | None) -> tuple[Any, ...]:
    """The experiment's progress every second while it runs; its comparison once, when done
    (drawn again only when the metric or the language changes)."""
    lang = lang or "en"
    metric = metric or "throughput_per_h"
    job = jobs().status()
    hidden = {"display": "none"}
    if job is None:
        return "", 0, 1, hidden, None, [], None, hidden, None, no_update, True
    running = job.state == "running"
    bar_style = {"display": "block", "width": "30em"} if running else hidden
    total = job.total or 1
    key = f"{job.id}:{job.state}:{metric}:{lang}"
    if key == shown:
        return (status_text(job, lang), job.done, total, bar_style, no_update, no_update,
                no_update, no_update, no_update, no_update, not running)  # fmt: skip
    results: Any = None
    options: list[dict[str, Any]] = []
    errors: Any = no_update
    apply_style = hidden
    if job.state == "done" and job.result is not None:
        results = results_view(job.result, metric, lang)
        # The experiment's id in each value: every page shows the newest experiment, and a
        # pick made on an older one must not apply the same index of another's (apply_live).
        options = [
            {"label": whatif_figures.scenario_label(sc, lang), "value": f"{job.id}:{sc['index']}"}
            for sc in job.result["scenarios"]
            if not sc.get("baseline")
        ]
        if context().commands is not None and options:
            apply_style = {"display": "block"}
    elif job.state == "failed":
        errors = job.error or ""
    # The first scenario is picked: applying the one just compared is the common case.
    pick = options[0]["value"] if options else None
    return (status_text(job, lang), job.done, total, bar_style, results, options, pick,
            apply_style, key, errors, not running)  # fmt: skip


_STATION_KEY = re.compile(r"^lines\[(?P<line>\d+)\]\.stations\[(?P<st>\d+)\]\.(?P<key>.+)$")


def key_path_label(path: str, cfg: PlantConfig | None, lang: str) -> str:
    """A key path a running plant cannot take, as words: `lines[0].stations[0].buffer` ->
    `cnc-01 · Buffer after (places)`; another key's words (`shifts[0].end` -> `shifts[0].end`
    with no underscores)."""
    m = _STATION_KEY.match(path)
    if m and cfg is not None:
        try:
            station = cfg.lines[int(m["line"])].stations[int(m["st"])].id
        except IndexError:
            station = None
        if station is not None:
            return f"{station} · {fmt.param(m['key'], lang)}"
    return fmt.words(path, lang)


def live_commands(scenario: dict[str, Any]) -> tuple[dict[str, dict[str, float]], list[str]]:
    """A scenario's `set` commands, one per station (area/line/station -> values), and the key
    paths a running plant cannot take (docs/whatif.md, `live`)."""
    live = scenario.get("live") or {}
    per_station: dict[str, dict[str, float]] = defaultdict(dict)
    for p in live.get("set", []):
        per_station[f"{p['area']}/{p['line']}/{p['station']}"][p["parameter"]] = p["value"]
    return dict(per_station), list(live.get("not_live", []))


@callback(
    Output(ids.WHATIF_APPLY_RESULT, "children"),
    Input(ids.WHATIF_APPLY_GO, "n_clicks"),
    State(ids.WHATIF_APPLY_PICK, "value"),
    State(ids.LANG, "value"),
    prevent_initial_call=True,
)
def apply_live(_n: Any, index: Any, lang: str | None) -> Any:
    """Send the chosen scenario's live parameters to the running simulator; each station's
    reply in the page's language, and what only a restart can change."""
    lang = lang or "en"
    ctx = context()
    job = jobs().status()
    if ctx.commands is None:
        return t("sim.no_broker", lang)
    if job is None or job.result is None:
        return t("whatif.err.no_result", lang)
    job_id, _, pick = str(index or "").partition(":")
    chosen = next(
        (sc for sc in job.result["scenarios"] if job_id == job.id and str(sc["index"]) == pick),
        None,
    )
    if chosen is None or chosen.get("baseline"):
        return t("whatif.err.pick_scenario", lang)
    commands, not_live = live_commands(chosen)
    not_live = [key_path_label(k, ctx.cfg, lang) for k in not_live]
    items: list[Any] = []
    for path, values in commands.items():
        reply = ctx.commands.send(ctx.commands.topic(path), set_params(values))
        if reply is None:
            text = f"{path.rsplit('/', 1)[-1]}: {t('sim.no_reply', lang)}"
        else:
            text = replies.describe(reply.topic, reply.payload, ctx.commands.prefix, ctx.tz, lang)
        items.append(html.Li(text, className="reply"))
    out: list[Any] = [html.Ul(items)] if items else [html.P(t("whatif.nothing_live", lang))]
    if not_live:
        out.append(
            html.P(
                t("whatif.needs_restart", lang).format(keys=", ".join(not_live)),
                className="whatif-note",
            )
        )
    return out


@callback(
    Output({"type": ids.WHATIF_LABELS, "key": ALL}, "children"),
    Output(ids.WHATIF_BASE, "children"),
    Input(ids.LANG, "value"),
)
def labels(lang: str | None) -> tuple[list[str], str]:
    lang = lang or "en"
    keys = [o["id"]["key"] for o in dash_ctx.outputs_list[0]]
    cfg = context().cfg
    if cfg is None:
        return [t(k, lang) for k in keys], t("whatif.no_config", lang)
    base = t("whatif.base", lang).format(
        lines=fmt.integer(len(cfg.lines), lang),
        stations=fmt.integer(sum(1 for _ in cfg.stations()), lang),
    )
    return [t(k, lang) for k in keys], base


@callback(
    Output(ids.WHATIF_MESSAGE, "children", allow_duplicate=True),
    Output(ids.WHATIF_FILE_NOTE, "children", allow_duplicate=True),
    Output(ids.WHATIF_APPLY_RESULT, "children", allow_duplicate=True),
    Input(ids.LANG, "value"),
    prevent_initial_call=True,
)
def clear_messages(_lang: str | None) -> tuple[str, str, str]:
    """A message answers a click in the language of that moment: a switch clears it rather
    than leave the other language on the page (the status and the figures redraw)."""
    return "", "", ""


# Each of these alone: a page without a config has none of them, and a callback whose only
# output is absent simply does not run.
@callback(Output(ids.WHATIF_SOURCE, "options"), Input(ids.LANG, "value"))
def source_options(lang: str | None) -> list[dict[str, str]]:
    return _source_options(lang or "en")


@callback(Output(ids.WHATIF_METRIC, "options"), Input(ids.LANG, "value"))
def metric_options(lang: str | None) -> list[dict[str, str]]:
    return _metric_options(lang or "en")


@callback(
    Output({"type": ids.WHATIF_ROW_PARAM, "index": ALL}, "options"),
    Input(ids.LANG, "value"),
    State({"type": ids.WHATIF_ROW_PARAM, "index": ALL}, "id"),
)
def param_options(lang: str | None, rows: list[Any]) -> list[list[dict[str, str]]]:
    return [_param_options(lang or "en") for _ in rows]
