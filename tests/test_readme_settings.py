"""Every setting a newcomer can set is named in the README's configuration section."""

from __future__ import annotations

from pathlib import Path

from bots.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    names = [f"OMNIRELAY_{field.upper()}" for field in Settings.model_fields]
    assert names, "Settings has no fields?"
    missing = [name for name in names if f"`{name}`" not in text]
    assert not missing, f"settings missing from README.md: {', '.join(missing)}"
