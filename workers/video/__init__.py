"""Video files for kinds ``probe`` and ``audio-default`` (issue 10).

- ``streams``: what ffprobe and ``mkvmerge -J`` print, parsed into plain data
  (pure functions, no I/O);
- ``choose``: which audio track a language preference picks, and the plan
  row's details (pure);
- ``readers``: running ffprobe and mkvmerge through ``ctx.run_tool``;
- ``editors``: setting the default audio track (mkvpropedit in place for
  Matroska, an ffmpeg remux into a temporary file for MP4) and the blocking
  file steps around it (``files``);
- ``ops``: the plan operation ``audio-default`` as fileops applies,
  reconciles and reverses it (registered in fileops/toolops.py).
"""
