"""Page labels in Vietnamese (default) and English. ``?lang=en`` switches (and is remembered
in a cookie); JavaScript gets the same labels as JSON in the page."""

from __future__ import annotations

from fastapi import Request

LANGS = ("vi", "en")
DEFAULT = "vi"
COOKIE = "burnwatch_lang"

LABELS: dict[str, tuple[str, str]] = {
    # key: (vi, en)
    "app": ("Giám sát đốt rơm rạ", "Open-burning watch"),
    "login": ("Đăng nhập", "Log in"),
    "logout": ("Đăng xuất", "Log out"),
    "username": ("Tên đăng nhập", "Username"),
    "password": ("Mật khẩu", "Password"),
    "login_failed": ("Sai tên đăng nhập hoặc mật khẩu", "Wrong username or password"),
    "map": ("Bản đồ", "Map"),
    "cases": ("Vụ việc", "Cases"),
    "my_cases": ("Vụ việc được giao cho tôi", "My assigned cases"),
    "all_cases": ("Tất cả vụ việc", "All cases"),
    "upload": ("Tải chuyến bay", "Upload flight"),
    "review": ("Duyệt phát hiện", "Review detections"),
    "incident": ("Điểm cháy", "Incident"),
    "incidents": ("Điểm cháy", "Incidents"),
    "hotspots": ("Điểm nóng", "Hotspots"),
    "sources": ("Nguồn", "Sources"),
    "photos": ("Ảnh", "Photos"),
    "history": ("Lịch sử", "History"),
    "state": ("Trạng thái", "Status"),
    "province": ("Tỉnh", "Province"),
    "commune": ("Xã", "Commune"),
    "confidence": ("Độ tin cậy", "Confidence"),
    "first_seen": ("Phát hiện lần đầu", "First seen"),
    "last_seen": ("Phát hiện gần nhất", "Last seen"),
    "date": ("Ngày", "Date"),
    "all_dates": ("Tất cả các ngày", "All dates"),
    "shown_of": (
        "Hiển thị {n} điểm cháy mới nhất trong {m} điểm của vùng đang xem; phóng to để xem thêm",
        "Showing the newest {n} of {m} incidents in this view; zoom in for the rest",
    ),
    "footprints": ("Vùng chụp chuyến bay", "Flight footprints"),
    "rasters": ("Lớp ảnh", "Raster layers"),
    "open_case": ("Mở vụ việc", "Open case"),
    "no_case": ("Chưa có vụ việc", "No case yet"),
    "reason": ("Lý do", "Reason"),
    "note": ("Ghi chú", "Note"),
    "add_note": ("Thêm ghi chú", "Add note"),
    "photo": ("Ảnh hiện trường", "Field photo"),
    "upload_photo": ("Tải ảnh lên", "Upload photo"),
    "distance": ("Khoảng cách đến điểm cháy", "Distance to incident"),
    "no_gps": ("Ảnh không có GPS", "Photo has no GPS"),
    "move_to": ("Chuyển sang", "Move to"),
    "assignee": ("Người phụ trách", "Assignee"),
    "due": ("Hạn", "Due"),
    "flight_zip": ("Tệp .zip ảnh chuyến bay", "Flight photos .zip"),
    "send": ("Gửi", "Send"),
    "progress": ("Tiến độ", "Progress"),
    "problems": ("Vấn đề theo tệp", "Per-file problems"),
    "detections": ("Phát hiện", "Detections"),
    "flights": ("Chuyến bay", "Flights"),
    "true_fire": ("Đúng là cháy", "Real fire"),
    "false_alarm": ("Báo sai", "False alarm"),
    "verdict": ("Đánh giá", "Verdict"),
    "none": ("Không có", "None"),
    "loading": ("Đang tải…", "Loading…"),
    "error": ("Lỗi", "Error"),
    "saved": ("Đã lưu", "Saved"),
    "language": ("English", "Tiếng Việt"),
    "st_new": ("Mới", "New"),
    "st_assigned": ("Đã giao", "Assigned"),
    "st_in_inspection": ("Đang kiểm tra", "In inspection"),
    "st_confirmed_burning": ("Xác nhận có đốt", "Confirmed burning"),
    "st_no_burning_found": ("Không phát hiện đốt", "No burning found"),
    "st_static_source": ("Nguồn nhiệt cố định", "Static heat source"),
    "st_closed": ("Đã đóng", "Closed"),
    "st_queued": ("Đang chờ", "Queued"),
    "st_running": ("Đang xử lý", "Processing"),
    "st_done": ("Hoàn tất", "Done"),
    "st_failed": ("Thất bại", "Failed"),
    "conf_low": ("Thấp", "Low"),
    "conf_nominal": ("Trung bình", "Nominal"),
    "conf_high": ("Cao", "High"),
}


def labels(lang: str) -> dict[str, str]:
    i = LANGS.index(lang) if lang in LANGS else 0
    return {k: v[i] for k, v in LABELS.items()}


def pick_lang(request: Request) -> str:
    """``?lang=`` first, then the cookie, then Vietnamese."""
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get(COOKIE)
    return c if c in LANGS else DEFAULT
