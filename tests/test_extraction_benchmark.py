"""The normaliser's figures on the shared benchmark pages stay above their floors."""

from __future__ import annotations

from benchmarks.extraction import (
    DEFAULT_DATA,
    load_bodies,
    load_dates,
    ours_body,
    ours_date,
    run_bodies,
    run_dates,
)

#: The issue's targets; measured when set: body F1 0.972, publication day 0.967.
BODY_F1_FLOOR = 0.965
DATE_ACCURACY_FLOOR = 0.96


def test_body_f1_and_publication_day_accuracy_stay_above_their_floors():
    bodies = run_bodies("ours", load_bodies(DEFAULT_DATA), ours_body)
    dates = run_dates("ours", load_dates(DEFAULT_DATA), ours_date)
    assert (bodies.pages, dates.pages) == (123, 91)
    assert bodies.f1 >= BODY_F1_FLOOR
    assert dates.right / dates.pages >= DATE_ACCURACY_FLOOR
