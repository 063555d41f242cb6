"""Every label the dashboard shows, in English and Tiếng Việt. One key, two texts."""

from __future__ import annotations

LANGS = ("en", "vi")

LABELS: dict[str, dict[str, str]] = {
    "oee": {"en": "OEE", "vi": "OEE"},
    "availability": {"en": "Availability", "vi": "Độ sẵn sàng"},
    "performance": {"en": "Performance", "vi": "Hiệu suất"},
    "quality": {"en": "Quality", "vi": "Chất lượng"},
    "plant": {"en": "Plant", "vi": "Nhà máy"},
    "line": {"en": "Line", "vi": "Dây chuyền"},
    "machine": {"en": "Machine", "vi": "Máy"},
    "good": {"en": "Good", "vi": "Đạt"},
    "scrap": {"en": "Scrap", "vi": "Phế phẩm"},
    "target": {"en": "Target", "vi": "Mục tiêu"},
    "energy_kwh": {"en": "Energy (kWh)", "vi": "Điện năng (kWh)"},
    "power_kw": {"en": "Power (kW)", "vi": "Công suất (kW)"},
    "time": {"en": "Time", "vi": "Thời gian"},
    "updated": {"en": "Updated", "vi": "Cập nhật lúc"},
    "reason": {"en": "Reason", "vi": "Nguyên nhân"},
    "kwh_per_good": {"en": "kWh per good part", "vi": "kWh mỗi sản phẩm đạt"},
    "demand_kw": {"en": "15-min demand (kW)", "vi": "Công suất 15 phút (kW)"},
    "peak_demand": {"en": "Peak 15-min demand", "vi": "Công suất đỉnh 15 phút"},
    "not_running": {"en": "Energy not running", "vi": "Điện năng khi không chạy"},
    "cost": {"en": "Energy cost", "vi": "Chi phí điện"},
    "period": {"en": "Tariff period", "vi": "Khung giờ giá"},
    "co2e": {"en": "CO2e", "vi": "Phát thải CO2e"},
    "by_hour": {"en": "OEE per hour", "vi": "OEE theo giờ"},
    "by_shift": {"en": "OEE per shift", "vi": "OEE theo ca"},
    "shift": {"en": "Shift", "vi": "Ca"},
    "sim.no_broker": {
        "en": "Start the dashboard with --broker to command the simulator from here.",
        "vi": "Khởi động dashboard với --broker để điều khiển bộ mô phỏng tại đây.",
    },
    "sim.broker": {"en": "Broker", "vi": "Broker"},
    "sim.speed": {
        "en": "Simulation speed (x real time)",
        "vi": "Tốc độ mô phỏng (x thời gian thực)",
    },
    "sim.apply": {"en": "Apply", "vi": "Áp dụng"},
    "sim.repair_min": {"en": "Repair time (min)", "vi": "Thời gian sửa (phút)"},
    "sim.breakdown": {"en": "Inject a breakdown", "vi": "Tạo sự cố hỏng máy"},
    "sim.recent_states": {"en": "Latest state changes", "vi": "Thay đổi trạng thái gần nhất"},
    "sim.replies": {"en": "Simulator replies", "vi": "Phản hồi của bộ mô phỏng"},
    "page.Overview": {"en": "Overview", "vi": "Tổng quan"},
    "page.Machine": {"en": "Machine", "vi": "Máy"},
    "page.Losses": {"en": "Losses", "vi": "Tổn thất"},
    "page.Energy": {"en": "Energy", "vi": "Năng lượng"},
    "page.Simulation": {"en": "Simulation", "vi": "Mô phỏng"},
    "bottleneck": {"en": "Bottleneck", "vi": "Điểm nghẽn"},
    "wf.scheduled": {"en": "Scheduled", "vi": "Thời gian theo lịch"},
    "wf.planned_stops": {"en": "Planned stops", "vi": "Dừng theo kế hoạch"},
    "wf.availability_loss": {"en": "Availability loss", "vi": "Tổn thất sẵn sàng"},
    "wf.performance_loss": {"en": "Performance loss", "vi": "Tổn thất hiệu suất"},
    "wf.quality_loss": {"en": "Quality loss", "vi": "Tổn thất chất lượng"},
    "wf.good": {"en": "Good time", "vi": "Thời gian hữu ích"},
    "no_machines": {"en": "No machines known yet", "vi": "Chưa có máy nào"},
    "hours": {"en": "Hours", "vi": "Giờ"},
    "state.running": {"en": "Running", "vi": "Đang chạy"},
    "state.idle": {"en": "Idle", "vi": "Chờ việc"},
    "state.starved": {"en": "Starved", "vi": "Thiếu phôi"},
    "state.blocked": {"en": "Blocked", "vi": "Bị nghẽn"},
    "state.down": {"en": "Down", "vi": "Hỏng"},
    "state.setup": {"en": "Setup", "vi": "Chuyển đổi"},
    "state.planned_stop": {"en": "Planned stop", "vi": "Dừng theo kế hoạch"},
    "state.off": {"en": "Off", "vi": "Ngoài ca"},
    "range.last_hour": {"en": "Last hour", "vi": "Giờ qua"},
    "range.current_shift": {"en": "Current shift", "vi": "Ca hiện tại"},
    "range.today": {"en": "Today", "vi": "Hôm nay"},
    "range.last_24h": {"en": "Last 24 h", "vi": "24 giờ qua"},
    "range.last_7d": {"en": "Last 7 days", "vi": "7 ngày qua"},
    "range.custom": {"en": "Custom", "vi": "Tùy chọn"},
    # State reasons (dashboard.fmt.reason) and machine-made tokens as words (dashboard.fmt.words).
    "reason.waiting_for": {"en": "waiting for {what}", "vi": "chờ {what}"},
    "reason.waiting for material": {"en": "waiting for material", "vi": "chờ nguyên liệu"},
    "reason.output buffer full": {"en": "output buffer full", "vi": "bộ đệm đầu ra đầy"},
    "reason.outside shift": {"en": "outside shift", "vi": "ngoài ca"},
    "reason.break": {"en": "break", "vi": "giờ nghỉ"},
    "reason.changeover": {"en": "changeover", "vi": "chuyển đổi sản phẩm"},
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
    "word.injected": {"en": "injected breakdown", "vi": "sự cố được tạo"},
    "word.dashboard": {"en": "injected from the dashboard", "vi": "tạo từ bảng điều khiển"},
    "word.operator_test": {"en": "operator test", "vi": "người vận hành thử"},
    # Live parameters (shopfloor.commands.LIVE_PARAMS), by their config key path.
    "param.cycle_s.mean": {"en": "Mean cycle time (s)", "vi": "Chu kỳ trung bình (giây)"},
    "param.cycle_s.cv": {
        "en": "Cycle time variation (CV)",
        "vi": "Hệ số biến thiên chu kỳ (CV)",
    },
    "param.mtbf_min": {
        "en": "Mean time between failures (min)",
        "vi": "Thời gian trung bình giữa hai lần hỏng (phút)",
    },
    "param.mttr_min": {
        "en": "Mean time to repair (min)",
        "vi": "Thời gian sửa chữa trung bình (phút)",
    },
    "param.scrap_rate": {"en": "Scrap rate", "vi": "Tỷ lệ phế phẩm"},
    "param.setup_min.mean": {
        "en": "Mean changeover time (min)",
        "vi": "Thời gian chuyển đổi trung bình (phút)",
    },
    "param.setup_min.cv": {
        "en": "Changeover time variation (CV)",
        "vi": "Hệ số biến thiên thời gian chuyển đổi (CV)",
    },
    "param.speed": {"en": "Simulation speed", "vi": "Tốc độ mô phỏng"},
    "param.repair_min": {"en": "Repair time (min)", "vi": "Thời gian sửa (phút)"},
    "param.ideal_cycle_s": {"en": "Ideal cycle time (s)", "vi": "Chu kỳ lý tưởng (giây)"},
    # What the Simulation page says about a command it sends.
    "sim.err.speed": {
        "en": "The speed must be a number above 0.",
        "vi": "Tốc độ phải là một số lớn hơn 0.",
    },
    "sim.err.param": {
        "en": "Pick a parameter and give it a value.",
        "vi": "Hãy chọn một tham số và nhập giá trị.",
    },
    "sim.err.machine": {"en": "Pick a machine.", "vi": "Hãy chọn một máy."},
    "sim.err.nothing": {"en": "Nothing pressed.", "vi": "Chưa bấm nút nào."},
    "sim.no_reply": {
        "en": "No reply within 3 s: is the simulator running with this broker?",
        "vi": "Không có phản hồi trong 3 giây: bộ mô phỏng có đang chạy với broker này không?",
    },
    # The simulator's replies (English on the wire), rebuilt from their structure.
    "reply.ok.set_speed": {
        "en": "simulation speed set to {speed}× real time",
        "vi": "đã đặt tốc độ mô phỏng {speed}× thời gian thực",
    },
    "reply.ok.breakdown": {
        "en": "breakdown injected ({reason}), repair {repair} min",
        "vi": "đã tạo sự cố ({reason}), sửa trong {repair} phút",
    },
    "reply.ok.set": {"en": "set {values}", "vi": "đã đặt {values}"},
    "reply.ok.other": {"en": "done", "vi": "đã thực hiện"},
    "reply.refused": {"en": "refused: {why}", "vi": "bị từ chối: {why}"},
    "reply.err.too_large": {
        "en": "the command is larger than {n} bytes",
        "vi": "lệnh lớn hơn {n} byte",
    },
    "reply.err.not_json": {"en": "the command is not JSON", "vi": "lệnh không phải JSON"},
    "reply.err.plant_command": {
        "en": "the speed is set for the whole plant, on the plant's command topic",
        "vi": "tốc độ được đặt cho cả nhà máy, qua kênh lệnh của nhà máy",
    },
    "reply.err.fixed_speed": {
        "en": "this run cannot change its speed",
        "vi": "lần chạy này không thể đổi tốc độ",
    },
    "reply.err.not_machine": {
        "en": "this command needs the command topic of a machine of this plant",
        "vi": "lệnh này cần kênh lệnh của một máy thuộc nhà máy này",
    },
    "reply.err.already_down": {"en": "{machine} is already down", "vi": "{machine} đang hỏng"},
    "reply.err.field": {"en": "{field}: {why}", "vi": "{field}: {why}"},
    "reply.err.bound": {
        "en": "must be {op} {limit}, got {got}",
        "vi": "phải {op} {limit}, nhận được {got}",
    },
    "reply.err.required_with": {
        "en": "required when {other} is set",
        "vi": "bắt buộc khi đã đặt {other}",
    },
    "reply.err.below_ideal": {
        "en": "must be at least the ideal cycle time ({ideal} s)",
        "vi": "không được nhỏ hơn chu kỳ lý tưởng ({ideal} giây)",
    },
    "reply.err.needs_batch": {
        "en": "needs the line's batch size (changeovers happen per order)",
        "vi": "cần cỡ lô của dây chuyền (chuyển đổi diễn ra theo từng đơn hàng)",
    },
    "reply.err.number": {"en": "must be a number", "vi": "phải là một số"},
    "reply.err.unknown_key": {"en": "unknown parameter", "vi": "tham số không xác định"},
    "reply.err.invalid": {"en": "invalid value", "vi": "giá trị không hợp lệ"},
    "reply.err.other": {
        "en": "the simulator refused the command",
        "vi": "bộ mô phỏng từ chối lệnh",
    },
    # Units and chart titles.
    "unit.min": {"en": "min", "vi": "phút"},
    "unit.h": {"en": "h", "vi": "giờ"},
    "unit.s": {"en": "s", "vi": "giây"},
    "unit.kg": {"en": "kg", "vi": "kg"},
    "unit.kwh": {"en": "kWh", "vi": "kWh"},
    "unit.kw": {"en": "kW", "vi": "kW"},
    "cumulative_share": {"en": "Cumulative share (%)", "vi": "Tỷ lệ lũy kế (%)"},
    "chart.kpi_bars": {
        "en": "OEE and its factors, plant and lines (%)",
        "vi": "OEE và các thành phần, nhà máy và dây chuyền (%)",
    },
    "chart.state_timeline": {"en": "Machine states over time", "vi": "Diễn biến trạng thái máy"},
    "chart.power": {"en": "Power draw (kW)", "vi": "Công suất tiêu thụ (kW)"},
    "chart.time_by_state": {"en": "Time by state (h)", "vi": "Thời gian theo trạng thái (giờ)"},
    "chart.pareto": {
        "en": "Downtime by state and reason (Pareto)",
        "vi": "Thời gian dừng theo trạng thái và nguyên nhân (Pareto)",
    },
    "chart.waterfall": {
        "en": "Where the scheduled time went (ISO 22400, h)",
        "vi": "Phân bổ thời gian theo lịch (ISO 22400, giờ)",
    },
    "chart.energy_bars": {
        "en": "Energy and kWh per good part, per line",
        "vi": "Điện năng và kWh mỗi sản phẩm đạt, theo dây chuyền",
    },
    "chart.energy_by_state": {
        "en": "Energy by machine state",
        "vi": "Điện năng theo trạng thái máy",
    },
    "chart.demand": {"en": "15-minute demand (kW)", "vi": "Công suất trung bình 15 phút (kW)"},
    "chart.energy_by_shift": {"en": "Energy per shift", "vi": "Điện năng theo ca"},
    "chart.oee_by_period": {"en": "OEE and its factors (%)", "vi": "OEE và các thành phần (%)"},
    # --- end of Vietnamese done properly
}


def t(key: str, lang: str = "en") -> str:
    """The label in `lang`; an unknown key shows itself, so a gap is visible, not a crash."""
    texts = LABELS.get(key)
    if texts is None:
        return key
    return texts.get(lang) or texts["en"]
