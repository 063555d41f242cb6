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
}


def t(key: str, lang: str = "en") -> str:
    """The label in `lang`; an unknown key shows itself, so a gap is visible, not a crash."""
    texts = LABELS.get(key)
    if texts is None:
        return key
    return texts.get(lang) or texts["en"]
