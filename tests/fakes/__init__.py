"""Fakes of what tests cannot reach: a MusicBrainz ws/2 catalog (catalog.py) over a fixture
dataset (dataset.py), and Rekordbox collection files made from it (rekordbox_xml.py)."""
