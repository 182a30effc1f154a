"""SMS length (GSM-7 / UCS-2 parts), templates, and notify.yaml errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from notify.config import QuietHours, load_config
from notify.encoding import measure
from notify.errors import ConfigError
from notify.templates import Templates


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters count twice
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 152 + "€", "GSM-7", 154, 1),
        ("停" * 70, "UCS-2", 70, 1),
        ("停" * 71, "UCS-2", 71, 2),
        ("停" * 134, "UCS-2", 134, 2),
        ("停" * 135, "UCS-2", 135, 3),
        ("a" * 69 + "停", "UCS-2", 70, 1),  # one Chinese character makes it all UCS-2
        ("😀" * 35, "UCS-2", 70, 1),  # surrogate pairs take two units
    ],
)
def test_measure(text: str, encoding: str, units: int, segments: int) -> None:
    length = measure(text)
    assert (length.encoding, length.units, length.segments) == (encoding, units, segments)


def test_concatenated_escape_pair_is_not_split() -> None:
    # 152 plain + one 2-unit char = 154 units: 153 would split the pair, so the part ends early
    assert measure("a" * 152 + "€" + "a" * 152).segments == 3


def test_templates_render_both_languages_and_record_length() -> None:
    templates = Templates()
    zh = templates.render("outage_detected", "zh-CN", incident="INC-000001", etr="7月1日18:30")
    en = templates.render("outage_detected", "en", incident="INC-000001", etr="Jul 1 18:30")
    assert "INC-000001" in zh.text and "7月1日18:30" in zh.text
    assert zh.length.encoding == "UCS-2" and zh.length.segments == 1
    assert en.length.encoding == "GSM-7" and "Jul 1 18:30" in en.text
    assert "预计" not in templates.render("outage_detected", "zh-CN", incident="I", etr=None).text


def test_an_overlong_template_is_refused_naming_file_and_kind(tmp_path: Path) -> None:
    source = Path("notify/templates.yaml").read_text(encoding="utf-8")
    path = tmp_path / "t.yaml"
    path.write_text(source.replace("正在抢修", "正在抢修" * 60, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"t\.yaml: outage_detected\.zh-CN: needs \d+ SMS parts"):
        Templates(path, max_segments=3)
    path.write_text("restored: {en: hi}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"outage_detected\.zh-CN: missing template text"):
        Templates(path)


def test_config_errors_name_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text("rate_per_second: -1\nquiet_hours: {en: {start: '25:00'}}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message and "rate_per_second" in message
    assert "quiet_hours.en.start" in message
    path.write_text("etr_threshold: 5\n")
    with pytest.raises(ConfigError, match="etr_threshold: Extra inputs are not permitted"):
        load_config(path)
    path.write_text(
        "etr_change_threshold_minutes: 15\nrate_per_second: 20\n"
        "quiet_hours: {zh-CN: {start: '21:30', end: '07:30', timezone: Asia/Shanghai}}\n"
    )
    config = load_config(path)
    assert config.etr_change_threshold_minutes == 15 and config.rate_per_second == 20
    assert config.quiet_for("en") == config.quiet_hours["zh-CN"]  # falls back to the default


def test_quiet_hours_release() -> None:
    quiet = QuietHours()  # 22:00-07:00 Asia/Shanghai
    day = datetime(2026, 7, 1, 4, 0, tzinfo=UTC)  # 12:00 local
    assert quiet.release(day) == day
    late = datetime(2026, 7, 1, 14, 30, tzinfo=UTC)  # 22:30 local
    assert quiet.release(late) == datetime(2026, 7, 1, 23, 0, tzinfo=UTC)
    early = datetime(2026, 7, 1, 20, 0, tzinfo=UTC)  # 04:00 local, same morning release
    assert quiet.release(early) == datetime(2026, 7, 1, 23, 0, tzinfo=UTC)
