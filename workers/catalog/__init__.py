"""Catalog matching for kind ``match`` (workers/kinds/match.py): pure parts and their I/O.

- ``rekordbox``: the streaming, entity-refusing reader of a Rekordbox collection XML;
- ``folder``: the same tracks read from the tags of a folder of audio files;
- ``normalise``: case, accents, punctuation, artist joins and mix suffixes;
- ``scoring``: candidates scored on title, artists, mix, duration and year;
- ``musicbrainz``: ws/2 recording-search queries (strict to loose) and answers;
- ``cache``: the SQLite answer cache under the data dir (blocking);
- ``xmlout``: the ``<name>.matched.xml`` writer that changes only the chosen attributes;
- ``tagwrite`` and ``fileops.patch``: tags written as a planned, undoable byte patch.
"""
