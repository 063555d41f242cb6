"""dashboard.fmt and dashboard.replies: numbers, money, dates, reasons and the simulator's
replies as each language writes them (CLDR's Vietnamese, checked against how Vietnamese is
written, not against the code's own output)."""

from __future__ import annotations

import queue
import re
from zoneinfo import ZoneInfo

import orjson
import pytest
import simpy

from dashboard import fmt, replies
from dashboard.i18n import LABELS
from shopfloor import commands
from shopfloor.contract import plant_prefix
from simulator.commands import Commander
from simulator.kinds import KINDS
from simulator.plant import Plant
from simulator.sinks import ListSink
from tests.simulator.helpers import START_MS, plant, station
from tests.support import instant_s

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SNAKE = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")
MONDAY_0930_MS = int(instant_s("2026-11-23T09:30:00+07:00") * 1000)


def test_vietnamese_numbers_money_and_percentages():
    assert fmt.number(1234567.8, "vi") == "1.234.567,8"
    assert fmt.number(1234567.8, "en") == "1,234,567.8"
    assert fmt.integer(3123590.4, "vi") == "3.123.590"
    assert fmt.percent(0.975, "vi") == "97,5%"
    assert fmt.percent(0.975, "en") == "97.5%"
    assert fmt.money(3123590, "VND", "vi") == "3.123.590\xa0₫"
    assert fmt.decimal(60.0, "vi") == "60"
    assert fmt.decimal(0.05, "vi") == "0,05"
    assert fmt.decimal(1234.5, "vi") == "1.234,5"
    assert fmt.separators("vi") == ",."
    assert fmt.separators("en") == ".,"


def test_dates_are_day_month_year_with_vietnamese_weekday_and_month_names():
    assert fmt.date(MONDAY_0930_MS, TZ, "vi") == "23/11/2026"
    assert fmt.date(MONDAY_0930_MS, TZ, "en") == "23/11/2026"
    assert fmt.clock_time(MONDAY_0930_MS, TZ, "vi") == "09:30"
    assert fmt.date_time(MONDAY_0930_MS, TZ, "vi") == "23/11/2026 09:30"
    assert fmt.weekday(MONDAY_0930_MS, TZ, "vi", short=False) == "Thứ Hai"
    assert fmt.weekday(MONDAY_0930_MS, TZ, "vi") == "Thứ 2"
    assert fmt.weekday(MONDAY_0930_MS + 6 * 86_400_000, TZ, "vi", short=False) == "Chủ Nhật"
    assert fmt.weekday(MONDAY_0930_MS, TZ, "en") == "Mon"
    assert fmt.day_month(MONDAY_0930_MS, TZ, "vi") == "23 thg 11"
    assert fmt.day_month(MONDAY_0930_MS, TZ, "en") == "23 Nov"
    assert fmt.shift_label("A", MONDAY_0930_MS, TZ, "vi") == "Thứ 2 23/11 A"
    assert fmt.zone(TZ, "vi") == "Giờ Việt Nam"
    assert fmt.zone(TZ, "en") == "Asia/Ho_Chi_Minh"


def test_time_ticks_fall_on_the_local_clock_and_are_labelled_in_the_language():
    day = 86_400_000
    t0 = MONDAY_0930_MS - 9.5 * 3_600_000  # Monday 00:00 plant time
    vals, texts = fmt.time_ticks(t0, t0 + day, TZ, "vi")
    assert vals[0] == "2026-11-23T00:00:00+07:00" and vals[-1] == "2026-11-24T00:00:00+07:00"
    assert texts[:3] == ["00:00", "03:00", "06:00"] and len(vals) == 9
    vals, texts = fmt.time_ticks(t0 + 7 * 60_000, t0 + 7 * day, TZ, "vi")
    assert vals[0] == "2026-11-24T00:00:00+07:00"  # the first local midnight inside
    assert texts[:2] == ["Thứ 3 24/11", "Thứ 4 25/11"]
    _, texts = fmt.time_ticks(t0, t0 + 60 * day, TZ, "vi")
    assert all(re.fullmatch(r"\d{1,2} thg \d{1,2}", x) for x in texts), texts
    _, texts = fmt.time_ticks(t0, t0 + 7 * day, TZ, "en")
    assert texts[0] == "Mon 23/11"


def test_reasons_and_every_failure_mode_read_as_words_in_both_languages():
    assert fmt.reason("waiting for cnc-02", "vi") == "chờ cnc-02"
    assert fmt.reason("waiting for cnc-02", "en") == "waiting for cnc-02"
    assert fmt.reason("waiting for material", "vi") == "chờ nguyên liệu"
    assert fmt.reason("output buffer full", "vi") == "bộ đệm đầu ra đầy"
    assert fmt.reason("outside shift", "vi") == "ngoài ca"
    assert fmt.reason("tool_breakage", "vi") == "gãy dao"
    assert fmt.reason("tool_breakage", "en") == "tool breakage"
    assert fmt.words("off_peak", "vi") == "thấp điểm"
    assert fmt.reason(None, "vi") == ""
    modes = {mode for spec in KINDS.values() for mode, _ in spec.failure_modes}
    for mode in modes:
        en, vi = fmt.reason(mode, "en"), fmt.reason(mode, "vi")
        assert f"word.{mode}" in LABELS, mode
        assert not SNAKE.search(en) and not SNAKE.search(vi), mode
        assert en != vi, mode  # translated, not copied


def test_no_snake_case_comes_out_of_words_even_for_an_unknown_token():
    for token in ("never_heard_of_it", "mttr_min", "a_b_c_d"):
        for lang in ("en", "vi"):
            assert not SNAKE.search(fmt.words(token, lang)), token
    for name in commands.LIVE_PARAMS:
        for lang in ("en", "vi"):
            assert not SNAKE.search(fmt.param(name, lang)), name
        assert fmt.param(name, "en") != fmt.param(name, "vi"), name


def test_every_catalogue_entry_has_vietnamese_with_no_snake_case():
    for key, texts in LABELS.items():
        assert texts.get("en") and texts.get("vi"), key
        # {placeholders} are filled in before anything shows.
        shown = [re.sub(r"\{\w*\}", "", texts[lang]) for lang in ("en", "vi")]
        assert not any(SNAKE.search(text) for text in shown), key


@pytest.fixture
def commander():
    cfg = plant([station("m1", mtbf_min=600, mttr_min=10, ideal_cycle_s=30)])
    env = simpy.Environment()
    sim = Plant(env, cfg, ListSink(), START_MS)
    env.run(until=600)
    cmd = Commander(sim, queue.SimpleQueue())
    return cmd, env


def reply_vi(commander, topic: str, command: dict | bytes) -> str:
    cmd, _ = commander
    raw = command if isinstance(command, bytes) else orjson.dumps(command)
    payload = dict(cmd.handle(topic, raw))
    return replies.describe(
        commands.reply_topic(topic), payload, plant_prefix("acme", "hcm"), TZ, "vi"
    )


def test_the_simulators_real_replies_read_in_vietnamese(commander):
    machine = commands.cmd_topic("acme", "hcm", "a/l1/m1")
    whole = commands.cmd_topic("acme", "hcm")
    said = [
        reply_vi(commander, machine, commands.breakdown("dashboard", 5)),
        reply_vi(commander, machine, commands.breakdown("tool_breakage", 5)),
        reply_vi(commander, machine, commands.set_params({"mttr_min": 20.5})),
        reply_vi(commander, machine, commands.set_params({"scrap_rate": 3})),
        reply_vi(commander, machine, commands.set_params({"cycle_s.mean": 10})),
        reply_vi(commander, machine, commands.set_speed(2)),
        reply_vi(commander, whole, commands.set_speed(2)),
        reply_vi(commander, machine, b"{not json"),
        reply_vi(commander, machine, b"x" * 5000),
    ]
    assert said[0].endswith("m1: đã tạo sự cố (tạo từ bảng điều khiển), sửa trong 5 phút")
    assert said[1].endswith("m1: bị từ chối: m1 đang hỏng")  # the first is still being repaired
    assert said[2].endswith("m1: đã đặt Thời gian sửa chữa trung bình (phút) = 20,5")
    assert said[3].endswith("m1: bị từ chối: Tỷ lệ phế phẩm: phải ≤ 1, nhận được 3")
    assert said[4].endswith(
        "m1: bị từ chối: Chu kỳ trung bình (giây): không được nhỏ hơn chu kỳ lý tưởng (30 giây)"
    )
    assert said[5].endswith("bị từ chối: tốc độ được đặt cho cả nhà máy, qua kênh lệnh của nhà máy")
    assert said[6].endswith("Nhà máy: bị từ chối: lần chạy này không thể đổi tốc độ")
    assert said[7].endswith("bị từ chối: lệnh không phải JSON")
    assert said[8].endswith("bị từ chối: lệnh lớn hơn 4.096 byte")
    assert re.match(r"^\d\d:\d\d:\d\d ", said[0])
    for text in said:
        assert not SNAKE.search(text), text
        assert "reply." not in text and "param." not in text, text


def test_an_unknown_refusal_still_reads_as_a_refusal():
    assert replies.error_text("the moon is down", "vi") == "bộ mô phỏng từ chối lệnh"
    assert replies.error_text("mtbf_min: something new", "vi") == (
        "Thời gian trung bình giữa hai lần hỏng (phút): giá trị không hợp lệ"
    )
    assert replies.error_text("mttr_min: required when mtbf_min is set", "en") == (
        "Mean time to repair (min): required when Mean time between failures (min) is set"
    )


def test_every_reason_a_simulated_day_writes_reads_in_vietnamese():
    """The reasons the simulator really writes (a day of the demo plant: starving, blocking,
    changeovers, breaks, off shift, breakdowns), each translated, none left as written."""
    from shopfloor.config import load_config
    from simulator.run import run
    from tests.support import PLANT

    sink = ListSink()
    run(load_config(PLANT), sink, START_MS, 86400)
    reasons = {p["reason"] for topic, p, _ in sink.messages if topic.endswith("/state")}
    reasons.discard("")
    assert {"outside shift", "break", "output buffer full"} <= reasons, reasons
    assert any(r.startswith("waiting for ") for r in reasons), reasons
    for reason in reasons:
        vi = fmt.reason(reason, "vi")
        assert vi != reason and not SNAKE.search(vi), (reason, vi)
        assert not SNAKE.search(fmt.reason(reason, "en")), reason


def test_every_tariff_period_of_every_example_config_is_a_word_in_both_languages():
    from pathlib import Path

    import yaml

    from shopfloor.config import load_config

    periods: set[str] = set()
    for path in sorted(Path(__file__).parents[2].glob("config/*.yaml")):
        if "plant" not in (yaml.safe_load(path.read_text()) or {}):
            continue  # not a plant config (what-if scenarios)
        tariff = load_config(path).energy.tariff
        if tariff is not None:
            periods |= set(tariff.price_per_kwh) | {w.period for w in tariff.windows}
    assert {"peak", "normal", "off_peak"} <= periods
    for period in periods:
        assert f"word.{period}" in LABELS, period
        assert not SNAKE.search(fmt.words(period, "en")), period
    assert [fmt.words(p, "vi") for p in ("peak", "normal", "off_peak")] == [
        "cao điểm",
        "bình thường",
        "thấp điểm",
    ]


def test_the_plotly_locale_asset_is_what_the_catalogue_and_cldr_make():
    """dashboard/assets/plotly-locale.js is generated; a catalogue change regenerates it."""
    from pathlib import Path

    from dashboard import plotly_locale

    asset = Path(plotly_locale.__file__).parent / "assets" / "plotly-locale.js"
    assert asset.read_text(encoding="utf-8") == plotly_locale.script(), (
        "run: python -m dashboard.plotly_locale > dashboard/assets/plotly-locale.js"
    )
    vi = plotly_locale.number_format("vi")
    assert vi["days"][:2] == ["Chủ Nhật", "Thứ Hai"]  # d3 weeks start on Sunday
    assert vi["shortMonths"][10] == "thg 11"
    assert (vi["decimal"], vi["thousands"]) == (",", ".")
    assert plotly_locale.dictionary("vi")["Reset axes"] == "Đặt lại trục"


def test_the_simulators_truth_answers_read_in_vietnamese():
    cfg = plant([station("m1", mtbf_min=600, mttr_min=10)])
    env = simpy.Environment()
    sim = Plant(env, cfg, ListSink(), START_MS)
    env.run(until=3600)
    commander = Commander(sim, queue.SimpleQueue())
    whole = commands.cmd_topic("acme", "hcm")

    def said(topic: str, cmd: dict) -> str:
        payload = dict(commander.handle(topic, orjson.dumps(cmd)))
        return replies.describe(
            commands.reply_topic(topic), payload, plant_prefix("acme", "hcm"), TZ, "vi"
        )

    assert said(whole, commands.truth(START_MS, START_MS + 1_800_000)).endswith(
        "Nhà máy: số liệu thực từ 23/11/2026 00:00 đến 23/11/2026 00:30"
    )
    assert said(whole, commands.truth(START_MS + 7_200_000)).endswith(
        "bị từ chối: khoảng thời gian bắt đầu sau thời điểm hiện tại của mô phỏng"
    )
    assert said(whole, commands.truth(START_MS + 60_000, START_MS + 120_000)).endswith(
        "bị từ chối: khoảng thời gian không chứa trọn một khoảng 15 phút nào "
        "(số liệu thực được lưu theo từng 15 phút)"
    )
    machine = commands.cmd_topic("acme", "hcm", "a/l1/m1")
    assert said(machine, commands.truth(START_MS)).endswith(
        "bị từ chối: số liệu thực được hỏi cho cả nhà máy, qua kênh lệnh của nhà máy"
    )
    assert said(whole, {**commands.truth(START_MS), "lines": ["nope"]}).endswith(
        "bị từ chối: nhà máy không có dây chuyền nope"
    )
    assert replies.error_text(
        "the answer is 70000 bytes, above the 61440 bytes a reply may be (a broker's ...)", "vi"
    ) == ("câu trả lời sẽ dài 70.000 byte, vượt quá 61.440 byte cho phép của một phản hồi")
    # A store's error shown beside them stays as it is (it is not the simulator's).
    assert replies.error_text("sqlite: database is locked", "vi", fallback="x") == "x"
