"""Words for what machines write: states, state reasons, failure modes, tariff periods.

One catalogue, in the kernel, for everything that shows them to a person: the dashboard merges it
into its own (dashboard.i18n.LABELS, so `t()` and dashboard.fmt read it) and the end-of-shift
PDF (shopfloor.shiftreport), which the CLI and the demo write without the dashboard, reads it
here. Two copies drifted: the Vietnamese PDF printed "spindle overload" (issue 10).

`reason` and `words` never let a snake_case token through: one nobody has translated yet reads
as words with spaces.
"""

from __future__ import annotations

import re

WORDS: dict[str, dict[str, str]] = {
    "state.running": {"en": "Running", "vi": "Đang chạy"},
    "state.idle": {"en": "Idle", "vi": "Chờ việc"},
    "state.starved": {"en": "Starved", "vi": "Thiếu phôi"},
    "state.blocked": {"en": "Blocked", "vi": "Bị nghẽn"},
    "state.down": {"en": "Down", "vi": "Hỏng"},
    "state.setup": {"en": "Setup", "vi": "Chuyển đổi"},
    "state.planned_stop": {"en": "Planned stop", "vi": "Dừng theo kế hoạch"},
    "state.off": {"en": "Off", "vi": "Ngoài ca"},
    # State reasons (`reason`) and machine-made tokens (`words`): failure modes, tariff periods.
    "reason.waiting_for": {"en": "waiting for {what}", "vi": "chờ {what}"},
    "reason.waiting for material": {"en": "waiting for material", "vi": "chờ nguyên liệu"},
    "reason.output buffer full": {"en": "output buffer full", "vi": "bộ đệm đầu ra đầy"},
    # Materials (issue 12): a line waiting for a raw material, and the causes of starvation.
    "reason.no_material": {"en": "no material: {what}", "vi": "hết nguyên liệu: {what}"},
    "cause.upstream": {"en": "Upstream station", "vi": "Trạm phía trước"},
    "cause.no_material": {"en": "No material: {what}", "vi": "Hết nguyên liệu: {what}"},
    "cause.no_order": {"en": "No order", "vi": "Không có đơn hàng"},
    "reason.outside shift": {"en": "outside shift", "vi": "ngoài ca"},
    "reason.break": {"en": "break", "vi": "giờ nghỉ"},
    "reason.changeover": {"en": "changeover", "vi": "chuyển đổi sản phẩm"},
    # Issue 12, maintenance and wear (simulator/maintenance.py).
    "reason.preventive maintenance": {"en": "preventive maintenance", "vi": "bảo trì phòng ngừa"},
    "reason.tool change": {"en": "tool change", "vi": "thay dao cụ"},
    # The process values of simulator/kinds.py (the Machine page's SPC chart picks one).
    "word.spindle_temp_c": {"en": "spindle temperature (°C)", "vi": "nhiệt độ trục chính (°C)"},
    "word.vibration_mm_s": {"en": "vibration (mm/s)", "vi": "độ rung (mm/s)"},
    "word.hydraulic_pressure_bar": {
        "en": "hydraulic pressure (bar)",
        "vi": "áp suất thủy lực (bar)",
    },
    "word.oil_temp_c": {"en": "oil temperature (°C)", "vi": "nhiệt độ dầu (°C)"},
    "word.barrel_temp_c": {"en": "barrel temperature (°C)", "vi": "nhiệt độ xi lanh nhựa (°C)"},
    "word.mold_temp_c": {"en": "mould temperature (°C)", "vi": "nhiệt độ khuôn (°C)"},
    "word.air_pressure_bar": {"en": "air pressure (bar)", "vi": "áp suất khí nén (bar)"},
    "word.fixture_temp_c": {"en": "fixture temperature (°C)", "vi": "nhiệt độ đồ gá (°C)"},
    "word.motor_temp_c": {"en": "motor temperature (°C)", "vi": "nhiệt độ động cơ (°C)"},
    "word.weld_current_a": {"en": "welding current (A)", "vi": "dòng điện hàn (A)"},
    "word.torch_temp_c": {"en": "torch temperature (°C)", "vi": "nhiệt độ mỏ hàn (°C)"},
    "word.booth_temp_c": {"en": "booth temperature (°C)", "vi": "nhiệt độ buồng sơn (°C)"},
    "word.booth_humidity_pct": {"en": "booth humidity (%)", "vi": "độ ẩm buồng sơn (%)"},
    "reason.inferred from power": {"en": "inferred from power", "vi": "suy ra từ công suất"},
    "word.tool_breakage": {"en": "tool breakage", "vi": "gãy dao"},
    "word.coolant_fault": {"en": "coolant fault", "vi": "lỗi dung dịch làm mát"},
    "word.peak": {"en": "peak", "vi": "cao điểm"},
    "word.normal": {"en": "normal", "vi": "bình thường"},
    "word.off_peak": {"en": "off-peak", "vi": "thấp điểm"},
    # --- Vietnamese done properly (issue 10): every failure mode of simulator/kinds.py, the
    # breakdown reasons commands write, the live parameters of shopfloor.commands, the
    # simulator's replies (dashboard.replies), units and chart titles.
    "word.spindle_overload": {"en": "spindle overload", "vi": "quá tải trục chính"},
    "word.axis_alarm": {"en": "axis alarm", "vi": "báo lỗi trục"},
    "word.door_interlock": {"en": "door interlock", "vi": "khóa liên động cửa"},
    "word.die_jam": {"en": "die jam", "vi": "kẹt khuôn dập"},
    "word.misfeed": {"en": "misfeed", "vi": "cấp phôi lỗi"},
    "word.hydraulic_leak": {"en": "hydraulic leak", "vi": "rò rỉ thủy lực"},
    "word.sensor_fault": {"en": "sensor fault", "vi": "lỗi cảm biến"},
    "word.mold_sticking": {"en": "mould sticking", "vi": "dính khuôn"},
    "word.nozzle_clog": {"en": "nozzle clog", "vi": "tắc vòi phun"},
    "word.heater_band_failure": {"en": "heater band failure", "vi": "hỏng vòng gia nhiệt"},
    "word.hydraulic_fault": {"en": "hydraulic fault", "vi": "lỗi thủy lực"},
    "word.part_jam": {"en": "part jam", "vi": "kẹt chi tiết"},
    "word.gripper_fault": {"en": "gripper fault", "vi": "lỗi tay gắp"},
    "word.screwdriver_fault": {"en": "screwdriver fault", "vi": "lỗi máy vặn vít"},
    "word.vision_fault": {"en": "vision system fault", "vi": "lỗi hệ thống camera"},
    "word.fixture_fault": {"en": "fixture fault", "vi": "lỗi đồ gá"},
    "word.tester_comm_error": {
        "en": "tester communication error",
        "vi": "lỗi truyền thông máy kiểm tra",
    },
    "word.calibration_drift": {"en": "calibration drift", "vi": "sai lệch hiệu chuẩn"},
    "word.film_break": {"en": "film break", "vi": "đứt màng co"},
    "word.label_jam": {"en": "label jam", "vi": "kẹt nhãn"},
    "word.carton_jam": {"en": "carton jam", "vi": "kẹt thùng carton"},
    "word.wire_feed_fault": {"en": "wire feed fault", "vi": "lỗi cấp dây hàn"},
    "word.torch_collision": {"en": "torch collision", "vi": "va chạm mỏ hàn"},
    "word.gas_flow_low": {"en": "low gas flow", "vi": "lưu lượng khí thấp"},
    "word.conveyor_stop": {"en": "conveyor stop", "vi": "băng tải dừng"},
    "word.filter_clogged": {"en": "clogged filter", "vi": "tắc bộ lọc"},
    "word.breakdown": {"en": "breakdown", "vi": "hỏng máy"},
    "word.injected": {"en": "injected breakdown", "vi": "sự cố giả lập"},
    "word.dashboard": {"en": "injected from the dashboard", "vi": "tạo từ bảng điều khiển"},
    "word.operator_test": {"en": "operator test", "vi": "thử nghiệm của người vận hành"},
}


def text(key: str, lang: str | None) -> str:
    """The entry in `lang` (English if it has none); an unknown key shows itself."""
    texts = WORDS.get(key)
    if texts is None:
        return key
    return texts.get(lang or "en") or texts["en"]


def words(token: str, lang: str | None) -> str:
    """A machine-made token (`tool_breakage`, `off_peak`, `mttr_min`) as words: its entry
    under `word.<token>`, else the token with spaces for underscores."""
    key = f"word.{token}"
    if key in WORDS:
        return text(key, lang)
    return token.replace("_", " ")


_WAITING = re.compile(r"^waiting for (?P<what>.+)$")


def reason(reason: str | None, lang: str | None) -> str:
    """A state reason as the simulator or collector wrote it, in the language:
    `waiting for cnc-02` -> `chờ cnc-02`, `output buffer full`, `tool_breakage`, ..."""
    if not reason:
        return ""
    key = f"reason.{reason}"
    if key in WORDS:
        return text(key, lang)
    match = _WAITING.match(reason)
    if match:
        return text("reason.waiting_for", lang).format(what=match["what"])
    if reason.startswith("no material: "):
        return text("reason.no_material", lang).format(what=reason[len("no material: ") :])
    return words(reason, lang)


def state(name: str, lang: str | None) -> str:
    """A machine state (`planned_stop`) by its name."""
    key = f"state.{name}"
    return text(key, lang) if key in WORDS else words(name, lang)
