"""Every label the dashboard shows, in English and Tiếng Việt. One key, two texts."""

from __future__ import annotations

from shopfloor.words import WORDS

LANGS = ("en", "vi")

LABELS: dict[str, dict[str, str]] = {
    # States, state reasons, failure modes and tariff periods (state.*, reason.*, word.*) live
    # in the kernel, shared with the end-of-shift PDF: add them to shopfloor/words.py.
    **WORDS,
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
    "range.last_hour": {"en": "Last hour", "vi": "Giờ qua"},
    "range.current_shift": {"en": "Current shift", "vi": "Ca hiện tại"},
    "range.today": {"en": "Today", "vi": "Hôm nay"},
    "range.last_24h": {"en": "Last 24 h", "vi": "24 giờ qua"},
    "range.last_7d": {"en": "Last 7 days", "vi": "7 ngày qua"},
    "range.custom": {"en": "Custom", "vi": "Tùy chọn"},
    # --- Vietnamese done properly (issue 10): the live parameters of shopfloor.commands, the
    # simulator's replies (dashboard.replies), units and chart titles.
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
    # The simulator's answers to the truth command (the Truth page asks it).
    "reply.ok.truth": {
        "en": "ground truth of {start} to {end}",
        "vi": "số liệu thực từ {start} đến {end}",
    },
    "reply.err.plant_truth": {
        "en": "the ground truth is asked of the whole plant, on the plant's command topic",
        "vi": "số liệu thực được hỏi cho cả nhà máy, qua kênh lệnh của nhà máy",
    },
    "reply.err.truth_future": {
        "en": "the range starts after the simulation's present",
        "vi": "khoảng thời gian bắt đầu sau thời điểm hiện tại của mô phỏng",
    },
    "reply.err.truth_past": {
        "en": "the range ends before this simulator run started",
        "vi": "khoảng thời gian kết thúc trước khi lần chạy mô phỏng này bắt đầu",
    },
    "reply.err.truth_quarter": {
        "en": "the range holds no whole quarter hour (the truth is kept per quarter hour)",
        "vi": "khoảng thời gian không chứa trọn một khoảng 15 phút nào (số liệu thực được lưu theo từng 15 phút)",
    },
    "reply.err.answer_too_large": {
        "en": "the answer would be {size} bytes, above the {n} bytes a reply may be",
        "vi": "câu trả lời sẽ dài {size} byte, vượt quá {n} byte cho phép của một phản hồi",
    },
    "reply.err.no_line": {
        "en": "no line {lines} in this plant",
        "vi": "nhà máy không có dây chuyền {lines}",
    },
    # Plotly's own words (dashboard/plotly_locale.py builds its Vietnamese locale from these).
    "plotly.Zoom": {"en": "Zoom", "vi": "Phóng to vùng chọn"},
    "plotly.Pan": {"en": "Pan", "vi": "Kéo"},
    "plotly.Box Select": {"en": "Box Select", "vi": "Chọn theo hình chữ nhật"},
    "plotly.Lasso Select": {"en": "Lasso Select", "vi": "Chọn tự do"},
    "plotly.Zoom in": {"en": "Zoom in", "vi": "Phóng to"},
    "plotly.Zoom out": {"en": "Zoom out", "vi": "Thu nhỏ"},
    "plotly.Autoscale": {"en": "Autoscale", "vi": "Tự động co giãn"},
    "plotly.Reset axes": {"en": "Reset axes", "vi": "Đặt lại trục"},
    "plotly.Reset view": {"en": "Reset view", "vi": "Đặt lại khung nhìn"},
    "plotly.Download plot as a PNG": {"en": "Download plot as a PNG", "vi": "Tải biểu đồ dạng PNG"},
    "plotly.Download plot": {"en": "Download plot", "vi": "Tải biểu đồ"},
    "plotly.Share chart...": {"en": "Share chart...", "vi": "Chia sẻ biểu đồ..."},
    "plotly.Produced with Plotly.js": {
        "en": "Produced with Plotly.js",
        "vi": "Vẽ bằng Plotly.js",
    },
    "plotly.Toggle Spike Lines": {"en": "Toggle Spike Lines", "vi": "Bật/tắt đường gióng"},
    "plotly.Show closest data on hover": {
        "en": "Show closest data on hover",
        "vi": "Hiện dữ liệu gần nhất khi di chuột",
    },
    "plotly.Compare data on hover": {
        "en": "Compare data on hover",
        "vi": "So sánh dữ liệu khi di chuột",
    },
    "plotly.Double-click to zoom back out": {
        "en": "Double-click to zoom back out",
        "vi": "Nhấp đúp để thu nhỏ lại",
    },
    "plotly.Double-click on legend to isolate one trace": {
        "en": "Double-click on legend to isolate one trace",
        "vi": "Nhấp đúp vào chú giải để chỉ hiện một chuỗi",
    },
    "plotly.Taking snapshot - this may take a few seconds": {
        "en": "Taking snapshot - this may take a few seconds",
        "vi": "Đang chụp ảnh biểu đồ, có thể mất vài giây",
    },
    "plotly.Snapshot succeeded": {"en": "Snapshot succeeded", "vi": "Đã chụp ảnh biểu đồ"},
    "plotly.Sorry, there was a problem downloading your snapshot!": {
        "en": "Sorry, there was a problem downloading your snapshot!",
        "vi": "Rất tiếc, không tải được ảnh biểu đồ!",
    },
    # --- end of Vietnamese done properly
    # --- KPI cards and the app shell (issue 10, a dashboard that looks like a product)
    "card.good_parts": {"en": "Good parts", "vi": "Sản phẩm đạt"},
    "card.target": {"en": "Target {value}", "vi": "Mục tiêu {value}"},
    "card.no_target": {"en": "No target set", "vi": "Chưa đặt mục tiêu"},
    "card.pts": {"en": "pts", "vi": "điểm %"},
    "card.vs_shift": {"en": "vs shift {name}", "vi": "so với ca {name}"},
    # Good parts card review fix: no change shown against a previous shift with nothing in it.
    "card.no_prev_worked": {
        "en": "No comparison: {before} was not worked",
        "vi": "Không so sánh: {before} không làm việc",
    },
    "card.no_prev_parts": {
        "en": "No comparison: {before} made no parts",
        "vi": "Không so sánh: {before} không sản xuất sản phẩm nào",
    },
    "card.prev_shift": {"en": "the previous shift ({name})", "vi": "ca trước ({name})"},
    "card.prev_day": {"en": "the day before", "vi": "ngày hôm trước"},
    "card.delta_title": {
        "en": "Shift {now} so far against the same length of time of shift {before} (from {when})",
        "vi": "Ca {now} đến hiện tại so với cùng khoảng thời gian của ca {before} (từ {when})",
    },
    "status.above": {"en": "At or above target", "vi": "Đạt hoặc vượt mục tiêu"},
    "status.near": {"en": "Near target", "vi": "Gần đạt mục tiêu"},
    "status.below": {"en": "Below target", "vi": "Dưới mục tiêu"},
    "status.none": {"en": "No target set", "vi": "Chưa đặt mục tiêu"},
    "inferred": {"en": "inferred", "vi": "suy luận"},
    "inferred.title": {
        "en": "Legacy machine with a power meter only: its running time is measured, its "
        "performance and quality are assumed (ideal cycle, no scrap), so its parts are inferred",
        "vi": "Máy đời cũ chỉ có đồng hồ đo công suất: thời gian chạy được đo, hiệu suất và "
        "chất lượng là giả định (chu kỳ lý tưởng, không phế phẩm), nên số sản phẩm là suy luận",
    },
    # Counted cycles (issue 12): a legacy machine whose meter sees each stroke.
    "inferred.counted.title": {
        "en": "Legacy machine with a power meter only: its running time is measured and its "
        "cycles are counted from its power peaks (a measured performance); its quality is "
        "assumed (no scrap), so its parts are inferred",
        "vi": "Máy đời cũ chỉ có đồng hồ đo công suất: thời gian chạy được đo và số chu kỳ "
        "được đếm từ các đỉnh công suất (hiệu suất được đo); chất lượng là giả định (không "
        "phế phẩm), nên số sản phẩm là suy luận",
    },
    "estimated": {"en": "estimated", "vi": "ước tính"},
    "estimated.title": {
        "en": "Estimated from sampled power, not read from an energy meter",
        "vi": "Ước tính từ công suất lấy mẫu, không đọc từ công tơ điện",
    },
    "estimated.part": {
        "en": "Includes {kwh} kWh estimated from sampled power, not read from an energy meter",
        "vi": "Bao gồm {kwh} kWh ước tính từ công suất lấy mẫu, không đọc từ công tơ điện",
    },
    "inferred.part": {
        "en": "Includes the inferred counts of a legacy machine (a power meter only)",
        "vi": "Bao gồm số lượng suy luận của máy đời cũ (chỉ có đồng hồ đo công suất)",
    },
    "scrap_all": {"en": "Scrap, all stations", "vi": "Phế phẩm, mọi trạm"},
    "station_scrap": {"en": "Scrap by station", "vi": "Phế phẩm theo trạm"},
    "yield": {"en": "Line yield", "vi": "Tỷ lệ đạt của dây chuyền"},
    "yield.title": {
        "en": "Rolled throughput yield: the product of every station's good / total parts, "
        "first to last station",
        "vi": "Hiệu suất thông qua tích lũy: tích của tỷ lệ đạt / tổng số của mọi trạm, "
        "từ trạm đầu đến trạm cuối",
    },
    "section.plant": {"en": "Plant KPIs", "vi": "Chỉ số nhà máy"},
    "section.lines": {"en": "Lines", "vi": "Dây chuyền"},
    "section.status": {"en": "Machines now", "vi": "Trạng thái máy hiện tại"},
    "section.table": {"en": "Lines and machines", "vi": "Dây chuyền và máy"},
    "header.language": {"en": "Language", "vi": "Ngôn ngữ"},
    "header.range": {"en": "Time range", "vi": "Khoảng thời gian"},
    "header.plant_time": {"en": "plant time", "vi": "giờ nhà máy"},
    "header.from": {"en": "From", "vi": "Từ"},
    "header.to": {"en": "To", "vi": "Đến"},
    # Line view and andon (issue 10)
    "page.Line": {"en": "Line view", "vi": "Sơ đồ dây chuyền"},
    "page.Andon": {"en": "Andon (TV)", "vi": "Màn hình Andon"},
    "line.all": {"en": "All lines", "vi": "Tất cả dây chuyền"},
    "line.buffer": {"en": "Buffer", "vi": "Bộ đệm"},
    "line.no_data": {
        "en": "No data in the store for this range yet",
        "vi": "Chưa có dữ liệu cho khoảng thời gian này",
    },
    "line.buffer_note": {
        "en": "Buffer levels (parts/capacity) are worked out from the counts and states of the "
        "stations on either side (no machine reports them); ≈: may be up to 2 parts above the "
        "truth; ?: a machine without counts (legacy).",
        "vi": "Mức bộ đệm (chi tiết/sức chứa) được tính từ số đếm và trạng thái của các trạm hai "
        "bên (không máy nào báo trực tiếp); ≈: có thể cao hơn thực tế tối đa 2 chi tiết; "
        "?: máy không gửi số đếm (máy đời cũ).",
    },
    "andon.down_longest": {"en": "Down longest", "vi": "Hỏng lâu nhất"},
    "andon.none_down": {"en": "No machine down", "vi": "Không có máy nào hỏng"},
    "andon.minutes": {"en": "{n} min", "vi": "{n} phút"},
    "andon.good_of_target": {"en": "Good / target", "vi": "Đạt / mục tiêu"},
    "andon.every_bad": {
        "en": "every={value} is not a number of seconds from 3 to 600: showing each line for {n} s",
        "vi": "every={value} không phải số giây từ 3 đến 600: mỗi dây chuyền hiển thị {n} giây",
    },
    # --- Pages that stop misleading (issue 10): notices, chart axes, the simulated clock
    # Store errors review fix: a store that cannot be read, said in the page's language (its
    # own words, a URL or path and what failed, inside).
    "notice.store_error": {
        "en": "The store cannot be read: {detail}",
        "vi": "Không đọc được kho dữ liệu: {detail}",
    },
    "notice.no_planned": {
        "en": "No planned production in this range (outside shift hours).",
        "vi": "Không có thời gian sản xuất theo kế hoạch trong khoảng này (ngoài giờ ca).",
    },
    "notice.no_planned_next": {
        "en": "No planned production in this range (outside shift hours). "
        "The next shift, {name}, starts {start}.",
        "vi": "Không có thời gian sản xuất theo kế hoạch trong khoảng này (ngoài giờ ca). "
        "Ca tiếp theo, ca {name}, bắt đầu lúc {start}.",
    },
    "notice.shift_under_way": {
        "en": "Current shift: {name}, {start} to {end} (under way).",
        "vi": "Ca hiện tại: ca {name}, {start} đến {end} (đang diễn ra).",
    },
    "notice.shift_ended": {
        "en": "No shift is under way: showing the last one, shift {name}, {start} to {end}.",
        "vi": "Hiện không có ca nào đang chạy: đang hiển thị ca gần nhất, ca {name}, "
        "{start} đến {end}.",
    },
    "notice.shift_ended_next": {
        "en": "No shift is under way: showing the last one, shift {name}, {start} to {end}. "
        "The next shift, {next_name}, starts {next}.",
        "vi": "Hiện không có ca nào đang chạy: đang hiển thị ca gần nhất, ca {name}, "
        "{start} đến {end}. Ca tiếp theo, ca {next_name}, bắt đầu lúc {next}.",
    },
    "notice.custom_start": {
        "en": "Custom range: set its start (plant time, {tz}).",
        "vi": "Khoảng tùy chọn: hãy đặt thời điểm bắt đầu (giờ nhà máy, {tz}).",
    },
    "notice.custom_end": {
        "en": "Custom range: set its end (plant time, {tz}).",
        "vi": "Khoảng tùy chọn: hãy đặt thời điểm kết thúc (giờ nhà máy, {tz}).",
    },
    "notice.custom_bad": {
        "en": "Custom range: {value} is not a date and time.",
        "vi": "Khoảng tùy chọn: {value} không phải là ngày giờ hợp lệ.",
    },
    "notice.custom_order": {
        "en": "Custom range: the end must be after the start.",
        "vi": "Khoảng tùy chọn: thời điểm kết thúc phải sau thời điểm bắt đầu.",
    },
    "axis.time_tz": {"en": "Time ({tz})", "vi": "Thời gian ({tz})"},
    "axis.shift": {"en": "Shift", "vi": "Ca"},
    "axis.kwh_per_good": {"en": "kWh per good part", "vi": "kWh mỗi sản phẩm đạt"},
    "chart.oee_by_hour": {"en": "OEE per hour (%)", "vi": "OEE theo giờ (%)"},
    "chart.oee_by_shift": {"en": "OEE per shift (%)", "vi": "OEE theo ca (%)"},
    "chart.demand_done": {"en": "Complete quarter hours", "vi": "Các khoảng 15 phút đã xong"},
    "chart.demand_partial": {
        "en": "Current quarter hour, so far (unfinished)",
        "vi": "Khoảng 15 phút hiện tại, tính đến lúc này (chưa xong)",
    },
    "sim.speed_note": {
        "en": "A live plant never runs ahead of the wall clock: a speed above 1 is a "
        "fast-forward that applies only while the plant is behind the clock (catching up); at "
        "the clock it runs at 1×. A speed below 1 lets it fall behind.",
        "vi": "Nhà máy chạy trực tiếp không bao giờ vượt trước đồng hồ thực: tốc độ trên 1 là "
        "tua nhanh, chỉ áp dụng khi nhà máy đang chậm hơn đồng hồ (đang đuổi kịp); khi đã bắt "
        "kịp đồng hồ, nó chạy ở 1×. Tốc độ dưới 1 làm nhà máy chậm dần so với đồng hồ.",
    },
    "sim.speed_in_use": {"en": "Speed in use: {speed}×.", "vi": "Tốc độ đang dùng: {speed}×."},
    "sim.speed_unknown": {
        "en": "Speed in use: not announced by the simulator yet.",
        "vi": "Tốc độ đang dùng: bộ mô phỏng chưa thông báo.",
    },
    "sim.at_clock": {
        "en": "The plant is at the wall clock (newest data {newest}).",
        "vi": "Nhà máy đang theo kịp đồng hồ thực (dữ liệu mới nhất lúc {newest}).",
    },
    "sim.behind": {
        "en": "The plant is {minutes} min behind the wall clock (newest data {newest}).",
        "vi": "Nhà máy đang chậm {minutes} phút so với đồng hồ thực "
        "(dữ liệu mới nhất lúc {newest}).",
    },
    "sim.ahead": {
        "en": "The store holds data up to {newest}, ahead of the wall clock (left by an earlier "
        "run): the pages show it as the clock reaches it, and the simulator waits for the clock.",
        "vi": "Kho dữ liệu có dữ liệu đến {newest}, vượt trước đồng hồ thực (do một lần chạy "
        "trước): các trang hiển thị phần đó khi đồng hồ tới, và bộ mô phỏng chờ đồng hồ.",
    },
    "sim.no_data": {
        "en": "No data from the plant in the store yet.",
        "vi": "Kho dữ liệu chưa có dữ liệu nào của nhà máy.",
    },
    # Alerts and the Truth page (issue 10: alerts, truth panel).
    "page.Alerts": {"en": "Alerts", "vi": "Cảnh báo"},
    "page.Truth": {"en": "Truth", "vi": "Đối chiếu"},
    "alerts.banner": {"en": "{n} active alerts", "vi": "{n} cảnh báo đang hoạt động"},
    "alerts.banner_one": {"en": "1 active alert", "vi": "1 cảnh báo đang hoạt động"},
    "alerts.none": {"en": "No alert is active.", "vi": "Không có cảnh báo nào."},
    "alerts.no_rules": {
        "en": "No alert rules are set: add an alerts: section to the plant config.",
        "vi": "Chưa đặt quy tắc cảnh báo nào: thêm mục alerts: vào cấu hình nhà máy.",
    },
    "alerts.rules": {"en": "Rules", "vi": "Quy tắc"},
    "alerts.active": {"en": "Active alerts", "vi": "Cảnh báo đang hoạt động"},
    "alerts.kind": {"en": "Alert", "vi": "Cảnh báo"},
    "alerts.subject": {"en": "Where", "vi": "Vị trí"},
    "alerts.since": {"en": "Since", "vi": "Từ lúc"},
    "alerts.value": {"en": "Value", "vi": "Giá trị"},
    "alerts.threshold": {"en": "Limit", "vi": "Ngưỡng"},
    "alerts.kind.machine_down": {"en": "Machine down", "vi": "Máy hỏng"},
    "alerts.kind.line_oee_low": {"en": "Line OEE low", "vi": "OEE dây chuyền thấp"},
    "alerts.kind.demand_high": {"en": "Demand above limit", "vi": "Công suất vượt ngưỡng"},
    "alerts.text.machine_down": {
        "en": "{subject} down for {value} min since {since} (limit {threshold} min)",
        "vi": "{subject} hỏng {value} phút, từ {since} (ngưỡng {threshold} phút)",
    },
    "alerts.text.line_oee_low": {
        "en": "Line {subject}: OEE {value} over the last hour, below {threshold}",
        "vi": "Dây chuyền {subject}: OEE giờ qua {value}, dưới {threshold}",
    },
    "alerts.text.demand_high": {
        "en": "Plant 15-minute demand {value} kW from {since}, above the contracted {threshold} kW",
        "vi": "Công suất 15 phút của nhà máy {value} kW từ {since}, vượt mức hợp đồng "
        "{threshold} kW",
    },
    "alerts.rule.machine_down": {
        "en": "A machine down for longer than {value} min",
        "vi": "Máy hỏng lâu hơn {value} phút",
    },
    "alerts.rule.line_oee_low": {
        "en": "A line's OEE over the last hour below {value}",
        "vi": "OEE của dây chuyền trong giờ qua dưới {value}",
    },
    "alerts.rule.line_oee_target": {
        "en": "A line's OEE over the last hour below its target",
        "vi": "OEE của dây chuyền trong giờ qua dưới mục tiêu",
    },
    "alerts.rule.demand_high": {
        "en": "The plant's 15-minute demand above {value} kW",
        "vi": "Công suất 15 phút của nhà máy vượt {value} kW",
    },
    "alerts.store_error": {
        "en": "Alerts cannot be judged: the store did not answer ({detail}).",
        "vi": "Không thể xét cảnh báo: kho dữ liệu không phản hồi ({detail}).",
    },
    "min": {"en": "min", "vi": "phút"},
    "truth.no_broker": {
        "en": "Start the dashboard with --broker to compare with the simulator's ground truth.",
        "vi": "Khởi động dashboard với --broker để đối chiếu với số liệu thực của bộ mô phỏng.",
    },
    "truth.no_reply": {
        "en": "The simulator did not answer: is it running with this broker?",
        "vi": "Bộ mô phỏng không trả lời: bộ mô phỏng có đang chạy với broker này không?",
    },
    "truth.refused": {
        "en": "The simulator cannot give the truth of this range: {detail}",
        "vi": "Bộ mô phỏng không thể cho số liệu thực của khoảng này: {detail}",
    },
    "truth.range": {
        "en": "Simulator's ground truth beside the store's measurement for {start} – {end}.",
        "vi": "Số liệu thực của bộ mô phỏng đặt cạnh số đo từ kho dữ liệu, từ {start} đến {end}.",
    },
    "truth.rounded": {
        "en": "The simulator keeps its truth per quarter hour: the range's ends are rounded down "
        "to a quarter hour (or to now).",
        "vi": "Bộ mô phỏng lưu số liệu thực theo từng 15 phút: hai đầu khoảng thời gian được làm "
        "tròn xuống mốc 15 phút (hoặc đến hiện tại).",
    },
    "truth.summary": {
        "en": "{ok} of {n} figures within tolerance.",
        "vi": "{ok} trên {n} số liệu nằm trong dung sai.",
    },
    "truth.tolerances": {
        "en": "Tolerances: counts exact; OEE, availability, performance and quality within 0.5 "
        "points; energy within one meter reading interval at each end of the range. A legacy "
        "machine's counts are inferred from power and not judged.",
        "vi": "Dung sai: số lượng khớp tuyệt đối; OEE, độ sẵn sàng, hiệu suất và chất lượng "
        "lệch tối đa 0,5 điểm; điện năng lệch tối đa một chu kỳ đọc công tơ ở mỗi đầu khoảng. "
        "Số lượng của máy đời cũ được suy ra từ công suất và không được xét.",
    },
    "truth.measured": {"en": "Measured", "vi": "Đo được"},
    "truth.truth": {"en": "Truth", "vi": "Thực tế"},
    "truth.diff": {"en": "Diff.", "vi": "Chênh lệch"},
    "truth.points": {"en": "pts", "vi": "điểm"},
    "truth.inferred": {"en": "inferred", "vi": "suy ra"},
    # Truth page review fixes (issue 10): a range ending now is compared up to the store's
    # latest whole quarter hour.
    "truth.cut": {
        "en": "The range ends now: both are compared up to {end}, the latest whole quarter "
        "hour the store has from every machine.",
        "vi": "Khoảng thời gian kết thúc ở hiện tại: hai bên được đối chiếu đến {end}, mốc 15 "
        "phút gần nhất mà kho dữ liệu đã nhận đủ từ mọi máy.",
    },
    "truth.not_stored": {
        "en": "The store does not yet hold a whole quarter hour of this range from every "
        "machine: try again in a few minutes.",
        "vi": "Kho dữ liệu chưa có đủ trọn một mốc 15 phút của khoảng này từ mọi máy: hãy thử "
        "lại sau vài phút.",
    },
    # End-of-shift report (issue 10): the overview's download links (dashboard/downloads.py).
    "reports.title": {"en": "End-of-shift reports", "vi": "Báo cáo cuối ca"},
    "reports.so_far": {"en": "so far", "vi": "đến hiện tại"},
    # What-if page (issue 11: what-if experiments; dashboard/pages/whatif.py, whatif_figures.py)
    "page.What-if": {"en": "What-if", "vi": "Giả định"},
    "param.buffer": {"en": "Buffer after (places)", "vi": "Bộ đệm phía sau (chỗ)"},
    "param.cycle_s": {"en": "Cycle time (s)", "vi": "Chu kỳ (giây)"},
    "whatif.no_config": {
        "en": "Start the dashboard with --config: a what-if experiment runs on the plant's config.",
        "vi": "Khởi động dashboard với --config: thử nghiệm giả định chạy trên cấu hình của nhà máy.",
    },
    "whatif.base": {
        "en": "Base: the running plant's config ({lines} line(s), {stations} stations). Each "
        "scenario is compared with it, run for run, with the same random numbers.",
        "vi": "Cơ sở: cấu hình của nhà máy đang chạy ({lines} dây chuyền, {stations} trạm). Mỗi "
        "kịch bản được so với nó theo từng lần chạy, với cùng các số ngẫu nhiên.",
    },
    "whatif.source.editor": {"en": "Change parameters", "vi": "Thay đổi thông số"},
    "whatif.source.file": {"en": "Scenario file", "vi": "Tệp kịch bản"},
    "whatif.name": {"en": "Scenario name (optional)", "vi": "Tên kịch bản (không bắt buộc)"},
    "whatif.value_hint": {
        "en": "Pick a station, a parameter and its new value. Several values separated by ; "
        "make a sweep: one scenario per value.",
        "vi": "Chọn một trạm, một thông số và giá trị mới. Nhiều giá trị cách nhau bởi dấu ; "
        "tạo thành một dãy: mỗi giá trị một kịch bản.",
    },
    "whatif.upload": {
        "en": "Drop a scenario file (YAML) here or click to pick one",
        "vi": "Thả tệp kịch bản (YAML) vào đây hoặc bấm để chọn",
    },
    "whatif.file_ok": {
        "en": "{file}: {n} scenario(s), all valid.",
        "vi": "{file}: {n} kịch bản, tất cả đều hợp lệ.",
    },
    "whatif.duration": {"en": "Duration", "vi": "Thời lượng"},
    "whatif.warmup": {"en": "Warm-up", "vi": "Khởi động"},
    "whatif.replications": {"en": "Replications", "vi": "Số lần lặp"},
    "whatif.duration_hint": {
        "en": "Simulated time of each run, e.g. 12h or 7d (at most 90d); the warm-up (at most "
        "7d, 0 for none) is simulated first and left out of every figure.",
        "vi": "Thời gian mô phỏng của mỗi lần chạy, ví dụ 12h hoặc 7d (tối đa 90d); phần khởi "
        "động (tối đa 7d, 0 nếu không có) được mô phỏng trước và không tính vào số liệu nào.",
    },
    "whatif.launch": {"en": "Launch", "vi": "Chạy thử nghiệm"},
    "whatif.which_first": {
        "en": "Which machine first? (sensitivity)",
        "vi": "Máy nào trước? (độ nhạy)",
    },
    "whatif.stop": {"en": "Stop", "vi": "Dừng"},
    "whatif.started": {
        "en": "Experiment started: {n} runs.",
        "vi": "Đã bắt đầu thử nghiệm: {n} lần chạy.",
    },
    "whatif.stopped": {"en": "Experiment stopped.", "vi": "Đã dừng thử nghiệm."},
    "whatif.nothing_running": {
        "en": "No experiment is running.",
        "vi": "Không có thử nghiệm nào đang chạy.",
    },
    "whatif.status.starting": {
        "en": "Starting the experiment…",
        "vi": "Đang khởi động thử nghiệm…",
    },
    "whatif.status.running": {
        "en": "Running: {done} of {total} runs done.",
        "vi": "Đang chạy: xong {done} trên {total} lần chạy.",
    },
    "whatif.status.done": {
        "en": "Done: {total} runs.",
        "vi": "Hoàn tất: {total} lần chạy.",
    },
    "whatif.status.some_failed": {
        "en": "{n} run(s) failed and are left out of the figures.",
        "vi": "{n} lần chạy bị lỗi và không được tính vào số liệu.",
    },
    "whatif.status.stopped": {"en": "The experiment was stopped.", "vi": "Thử nghiệm đã bị dừng."},
    "whatif.status.failed": {
        "en": "The experiment failed:",
        "vi": "Thử nghiệm thất bại:",
    },
    "whatif.err.busy": {
        "en": "An experiment is already running: wait for it or stop it first.",
        "vi": "Đang có một thử nghiệm chạy: hãy chờ nó xong hoặc dừng nó trước.",
    },
    "whatif.err.duration": {
        "en": "Duration: '{value}' is not a duration (e.g. 12h, 7d).",
        "vi": "Thời lượng: '{value}' không phải là khoảng thời gian (ví dụ 12h, 7d).",
    },
    "whatif.err.warmup": {
        "en": "Warm-up: '{value}' is not a duration (e.g. 0, 12h, 1d).",
        "vi": "Khởi động: '{value}' không phải là khoảng thời gian (ví dụ 0, 12h, 1d).",
    },
    "whatif.err.duration_max": {
        "en": "Duration: must be more than 0 and at most {limit} days.",
        "vi": "Thời lượng: phải lớn hơn 0 và tối đa {limit} ngày.",
    },
    "whatif.err.warmup_max": {
        "en": "Warm-up: at most {limit} days.",
        "vi": "Khởi động: tối đa {limit} ngày.",
    },
    "whatif.err.replications": {
        "en": "Replications: a whole number from {low} to {high}.",
        "vi": "Số lần lặp: một số nguyên từ {low} đến {high}.",
    },
    "whatif.err.scenarios": {
        "en": "Scenarios: {n} is too many (at most {limit}, the baseline included).",
        "vi": "Kịch bản: {n} là quá nhiều (tối đa {limit}, kể cả kịch bản cơ sở).",
    },
    "whatif.err.total": {
        "en": "The experiment would simulate {days} days in all (at most {limit}): shorten "
        "the duration or use fewer replications.",
        "vi": "Thử nghiệm sẽ mô phỏng tổng cộng {days} ngày (tối đa {limit}): hãy rút ngắn "
        "thời lượng hoặc giảm số lần lặp.",
    },
    "whatif.err.row_incomplete": {
        "en": "Row {row}: pick a station and a parameter.",
        "vi": "Dòng {row}: hãy chọn một trạm và một thông số.",
    },
    "whatif.err.row_value": {
        "en": "Row {row}: '{value}' is not a number (or numbers separated by ;).",
        "vi": "Dòng {row}: '{value}' không phải là số (hoặc các số cách nhau bởi ;).",
    },
    "whatif.err.row_twice": {
        "en": "Row {row}: this station's parameter is already set above.",
        "vi": "Dòng {row}: thông số này của trạm đã được đặt ở dòng trên.",
    },
    "whatif.err.no_rows": {
        "en": "Give at least one new value.",
        "vi": "Hãy nhập ít nhất một giá trị mới.",
    },
    "whatif.err.no_file": {
        "en": "Upload a scenario file first.",
        "vi": "Hãy tải lên một tệp kịch bản trước.",
    },
    "whatif.err.not_text": {
        "en": "{file}: not a text (YAML) file.",
        "vi": "{file}: không phải tệp văn bản (YAML).",
    },
    # What-if review fix (issue 11): an uploaded scenario file's size is bounded.
    "whatif.err.too_large": {
        "en": "{file}: larger than {limit} kB, too large for a scenario file.",
        "vi": "{file}: lớn hơn {limit} kB, quá lớn đối với một tệp kịch bản.",
    },
    "whatif.err.scenarios_bad": {
        "en": "The scenarios have {n} error(s), named by key path below; nothing ran.",
        "vi": "Các kịch bản có {n} lỗi, ghi theo đường dẫn khóa bên dưới; chưa chạy gì.",
    },
    "whatif.err.no_result": {
        "en": "Run an experiment first.",
        "vi": "Hãy chạy một thử nghiệm trước.",
    },
    "whatif.err.pick_scenario": {
        "en": "Pick a scenario to apply.",
        "vi": "Hãy chọn một kịch bản để áp dụng.",
    },
    "whatif.result_note": {
        "en": "{n} replications of {duration} each, after a warm-up of {warmup}. Whiskers: "
        "95 % confidence interval; * marks a difference chance does not explain.",
        "vi": "{n} lần lặp, mỗi lần {duration}, sau {warmup} khởi động. Râu: khoảng tin "
        "cậy 95 %; * đánh dấu chênh lệch không phải do ngẫu nhiên.",
    },
    "whatif.baseline": {"en": "Baseline (as configured)", "vi": "Cơ sở (như cấu hình)"},
    "whatif.span.days": {"en": "{n} d", "vi": "{n} ngày"},
    "whatif.span.hours": {"en": "{n} h", "vi": "{n} giờ"},
    "whatif.metric.throughput_per_h": {"en": "Throughput", "vi": "Sản lượng"},
    "whatif.metric.oee": {"en": "OEE", "vi": "OEE"},
    "whatif.metric.kwh_per_good": {"en": "kWh per good part", "vi": "kWh mỗi sản phẩm đạt"},
    "whatif.unit.throughput_per_h": {
        "en": "good parts per planned hour",
        "vi": "sản phẩm đạt mỗi giờ kế hoạch",
    },
    "whatif.unit.oee": {"en": "OEE (%)", "vi": "OEE (%)"},
    "whatif.unit.kwh_per_good": {"en": "kWh per good part", "vi": "kWh mỗi sản phẩm đạt"},
    "whatif.axis.scenario": {"en": "Scenario", "vi": "Kịch bản"},
    "whatif.axis.diff": {
        "en": "Change against the baseline ({unit})",
        "vi": "Thay đổi so với cơ sở ({unit})",
    },
    "whatif.chart.bars": {
        "en": "{metric} of the plant per scenario (95 % interval)",
        "vi": "{metric} của nhà máy theo kịch bản (khoảng tin cậy 95 %)",
    },
    "whatif.chart.diffs": {
        "en": "{metric}: paired difference against the baseline",
        "vi": "{metric}: chênh lệch cặp so với cơ sở",
    },
    "whatif.chart.tornado": {
        "en": "Which machine first? {metric} of the plant, each parameter moved alone",
        "vi": "Máy nào trước? {metric} của nhà máy, mỗi thông số thay đổi riêng",
    },
    "whatif.tornado.low": {"en": "−{pct} %", "vi": "−{pct} %"},
    "whatif.tornado.high": {"en": "+{pct} %", "vi": "+{pct} %"},
    "whatif.ci": {"en": "(95 %: {low} to {high})", "vi": "(95 %: {low} đến {high})"},
    "whatif.no_value": {"en": "none", "vi": "không có"},
    "whatif.significant": {
        "en": "significant: the interval excludes 0",
        "vi": "có ý nghĩa: khoảng tin cậy không chứa 0",
    },
    "whatif.not_significant": {
        "en": "not significant: chance may explain it",
        "vi": "không có ý nghĩa: có thể do ngẫu nhiên",
    },
    "whatif.apply_title": {"en": "Apply to the live plant", "vi": "Áp dụng cho nhà máy đang chạy"},
    "whatif.apply": {"en": "Apply to the live plant", "vi": "Áp dụng cho nhà máy đang chạy"},
    "whatif.nothing_live": {
        "en": "This scenario has no parameter a running plant can take.",
        "vi": "Kịch bản này không có thông số nào nhà máy đang chạy có thể nhận.",
    },
    "whatif.needs_restart": {
        "en": "Needs a restart with the edited config: {keys}",
        "vi": "Cần khởi động lại với cấu hình đã sửa: {keys}",
    },
    # Materials and the supply chain (issue 12); the causes' words are in shopfloor/words.py.
    "chart.starvation": {
        "en": "Starvation by cause: upstream station, no material, no order",
        "vi": "Thiếu phôi theo nguyên nhân: trạm phía trước, hết nguyên liệu, không có đơn hàng",
    },
    "starvation.none": {
        "en": "No machine waited for work in this range.",
        "vi": "Không có máy nào phải chờ việc trong khoảng thời gian này.",
    },
    # Maintenance and wear (issue 12): the Machine page's SPC chart (dashboard/spc_figures.py).
    "spc.title": {
        "en": "Control chart, individuals and moving range: {value}",
        "vi": "Biểu đồ kiểm soát giá trị đơn và khoảng biến động: {value}",
    },
    "spc.pick": {"en": "Process value", "vi": "Thông số quá trình"},
    "spc.individuals": {"en": "Mean while running", "vi": "Trung bình khi chạy"},
    "spc.moving_range": {"en": "Moving range", "vi": "Khoảng biến động"},
    "spc.center": {"en": "Centre line", "vi": "Đường tâm"},
    "spc.ucl": {"en": "Upper control limit", "vi": "Giới hạn kiểm soát trên"},
    "spc.lcl": {"en": "Lower control limit", "vi": "Giới hạn kiểm soát dưới"},
    "spc.flagged": {"en": "Out of control", "vi": "Ngoài kiểm soát"},
    "spc.rule1": {"en": "Rule 1: a point beyond 3σ", "vi": "Quy tắc 1: một điểm vượt quá 3σ"},
    "spc.rule2": {
        "en": "Rule 2: 2 of 3 points beyond 2σ on one side",
        "vi": "Quy tắc 2: 2 trong 3 điểm vượt quá 2σ về cùng một phía",
    },
    "spc.rule3": {
        "en": "Rule 3: 4 of 5 points beyond 1σ on one side",
        "vi": "Quy tắc 3: 4 trong 5 điểm vượt quá 1σ về cùng một phía",
    },
    "spc.rule4": {
        "en": "Rule 4: 8 points in a row on one side of the centre line",
        "vi": "Quy tắc 4: 8 điểm liên tiếp về cùng một phía của đường tâm",
    },
    "spc.note": {
        "en": "One point per {minutes} min: the mean of the samples taken while running. "
        "Limits from the first {n} points (Western Electric rules 1-4).",
        "vi": "Mỗi điểm là {minutes} phút: trung bình các mẫu lấy khi máy chạy. "
        "Giới hạn tính từ {n} điểm đầu tiên (quy tắc Western Electric 1-4).",
    },
    "spc.first_flag": {
        "en": "After them, {count} points out of control, the first at {time}.",
        "vi": "Sau đó có {count} điểm ngoài kiểm soát, điểm đầu tiên lúc {time}.",
    },
    "spc.none_flagged": {
        "en": "After them, every point is in control.",
        "vi": "Sau đó, mọi điểm đều trong tầm kiểm soát.",
    },
    "spc.too_few": {
        "en": "Too few running samples of this value in the range for a control chart.",
        "vi": "Không đủ mẫu khi máy chạy của thông số này trong khoảng thời gian để vẽ biểu đồ kiểm soát.",
    },
    "spc.no_values": {
        "en": "This machine sends no process values.",
        "vi": "Máy này không gửi thông số quá trình nào.",
    },
    # Work orders (issue 12): the Orders page (dashboard/pages/orders.py, order_figures.py).
    "page.Orders": {"en": "Orders", "vi": "Đơn hàng"},
    "orders.scope": {"en": "Scope", "vi": "Phạm vi"},
    "orders.due": {"en": "Orders due", "vi": "Đơn đến hạn"},
    "orders.finished": {"en": "Finished", "vi": "Đã hoàn thành"},
    "orders.otif": {"en": "On time in full (OTIF)", "vi": "Đúng hạn, đủ số lượng (OTIF)"},
    "orders.on_time": {"en": "On time", "vi": "Đúng hạn"},
    "orders.in_full": {"en": "In full", "vi": "Đủ số lượng"},
    "orders.attainment": {"en": "Schedule attainment", "vi": "Mức hoàn thành kế hoạch"},
    "orders.lead_time": {"en": "Mean lead time", "vi": "Thời gian sản xuất trung bình"},
    "orders.wip_avg": {"en": "Orders in progress (mean)", "vi": "Đơn đang thực hiện (trung bình)"},
    "orders.wip_end": {"en": "Orders in progress (end)", "vi": "Đơn đang thực hiện (cuối kỳ)"},
    "orders.order": {"en": "Order", "vi": "Đơn hàng"},
    "orders.product": {"en": "Product", "vi": "Sản phẩm"},
    "orders.quantity": {"en": "Quantity", "vi": "Số lượng"},
    "orders.release": {"en": "Released", "vi": "Phát lệnh"},
    "orders.due_at": {"en": "Due", "vi": "Hạn giao"},
    "orders.start": {"en": "Started", "vi": "Bắt đầu"},
    "orders.finish": {"en": "Finished at", "vi": "Hoàn thành lúc"},
    "orders.status": {"en": "Status", "vi": "Trạng thái"},
    "orders.late": {"en": "Late", "vi": "Trễ hạn"},
    "orders.waiting": {"en": "Waiting for the line", "vi": "Chờ dây chuyền"},
    "orders.in_progress": {"en": "In progress", "vi": "Đang sản xuất"},
    "orders.in_progress_late": {"en": "In progress, past due", "vi": "Đang sản xuất, đã quá hạn"},
    "orders.allowed": {
        "en": "Time allowed (release to due)",
        "vi": "Thời gian cho phép (phát lệnh đến hạn giao)",
    },
    "orders.chart": {
        "en": "Lead time of each order finished in the range (release to finish)",
        "vi": "Thời gian sản xuất của từng đơn hoàn thành trong khoảng (phát lệnh đến hoàn thành)",
    },
    "orders.hours_axis": {"en": "Lead time (h)", "vi": "Thời gian sản xuất (giờ)"},
    "orders.none_finished": {
        "en": "No order finished in this range.",
        "vi": "Không có đơn nào hoàn thành trong khoảng thời gian này.",
    },
    "orders.no_orders": {
        "en": "No work orders in the store: the plant runs without orders (add products and "
        "orders to its config).",
        "vi": "Chưa có lệnh sản xuất nào trong kho dữ liệu: nhà máy đang chạy không theo đơn "
        "hàng (thêm sản phẩm và đơn hàng vào cấu hình).",
    },
}


def t(key: str, lang: str = "en") -> str:
    """The label in `lang`; an unknown key shows itself, so a gap is visible, not a crash."""
    texts = LABELS.get(key)
    if texts is None:
        return key
    return texts.get(lang) or texts["en"]
