"""How the CLI shows match items: ``medialoom results ID --status ambiguous`` lists candidates."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from medialoom.clients.render_match import candidate_lines
from medialoom.clients.render_tables import results_table

AMBIGUOUS: dict[str, Any] = {
    "i": 4, "path": "/Music/DJ/Echo Saffron Ghost.mp3", "status": "ambiguous",
    "message": "close candidates: ...", "duration_ms": 12,
    "details": {"track_id": "5", "score": 1.0, "candidates": [
        {"recording_id": "ce1ee419-8f74-4119-bd54-7b37edd10243", "title": "Echo Saffron Ghost",
         "artist": "The Velvet Hours", "release": "Echo EP", "date": "2011-02-03",
         "score": 1.0, "length_s": 344.0},
        {"recording_id": "29ee6ff7-2a0b-4884-961a-85c942a1833b", "title": "Echo Saffron Ghost",
         "artist": "The Quiet Type & The Velvet Hours", "release": "", "date": "",
         "score": 0.959, "length_s": None}]}}


def test_ambiguous_items_list_their_candidates_in_an_80_column_table() -> None:
    console = Console(width=80, record=True, highlight=False)
    console.print(results_table([AMBIGUOUS], 1, 80))
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    flat = " ".join(text.split())  # the message column wraps
    assert "? 1.00 The Velvet Hours - Echo Saffron Ghost (Echo EP, 2011) [ce1ee419]" in flat
    assert "? 0.96 The Quiet Type & The Velvet Hours - Echo Saffron Ghost [29ee6ff7]" in flat


def test_a_matched_item_shows_the_recording_it_matched_and_others_nothing() -> None:
    matched = {**AMBIGUOUS, "status": "matched",
               "details": {**AMBIGUOUS["details"],
                           "recording_id": "29ee6ff7-2a0b-4884-961a-85c942a1833b"}}
    assert candidate_lines(matched) == \
        "= 0.96 The Quiet Type & The Velvet Hours - Echo Saffron Ghost [29ee6ff7]"
    assert candidate_lines({"status": "renamed", "details": {"old": "a", "new": "b"}}) == ""
