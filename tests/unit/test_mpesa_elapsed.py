"""The M-PESA waiting page's "Waiting for about 0:45": pushed every 5 seconds, never
more than 2.5 seconds off the time really waited."""

from __future__ import annotations

from payflow_app.ui.pages.mpesa_payment import _elapsed, _until_next_tick


def _seconds(text: str) -> int:
    minutes, seconds = text.split(":")
    return int(minutes) * 60 + int(seconds)


def test_the_elapsed_time_is_pushed_every_five_seconds_and_stays_true() -> None:
    waited, shown = 0.3, []  # the page opens just after the prompt was sent
    while waited < 130:
        text = _elapsed(waited)
        shown.append(text)
        next_push = waited + _until_next_tick(waited)
        for moment in (waited, next_push - 0.001):  # true from this push until the next
            assert abs((_seconds(text) if text else 0) - moment) <= 2.5 + 0.06
        assert 0.05 <= next_push - waited <= 5.05
        waited = next_push
    assert shown[:4] == ["", "0:05", "0:10", "0:15"]
    assert "2:05" in shown and len(shown) == len(set(shown))  # one push per new figure
