"""Video figures (issue 10): probe of N small videos by the probe job on 2 worker processes vs
a sequential loop of ffprobe (the old tool's approach) vs ``xargs -P 2 ffprobe``, files/s side
by side in each round; STATUS p99 while the probe runs; audio-default MKV edits/s.

The videos are copies of one 1 s ffmpeg lavfi video (64x48 mpeg4, two AAC tracks eng and jpn):
ffprobe's work per file is the same as for distinct files, and they are made in a second.  The
job's time is the broker's ``finished - started``; the loops' is wall time.  Each round probes
cold and warm files alike (the page cache holds them all after the first pass).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks.common import Fabric
from benchmarks.report import show, show_latency
from medialoom.workers.video.readers import FFPROBE_ARGS

WAIT_S = 600.0
#: seconds between two STATUS requests of the poller (~200 per second)
STATUS_GAP_S = 0.005


def make_videos(folder: str, n: int) -> list[str]:
    """n copies of one small two-language video (made by ffmpeg) under folder."""
    os.makedirs(folder, exist_ok=True)
    first = os.path.join(folder, "v0000.mkv")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=10:duration=1", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=1", "-f", "lavfi", "-i",
                    "sine=frequency=660:duration=1", "-map", "0", "-map", "1", "-map", "2",
                    "-c:v", "mpeg4", "-c:a", "aac", "-b:a", "24k",
                    "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=jpn",
                    "-disposition:a:0", "default", "-disposition:a:1", "0", first],
                   check=True, timeout=120)
    paths = [first]
    for k in range(1, n):
        paths.append(os.path.join(folder, f"v{k:04}.mkv"))
        shutil.copyfile(first, paths[-1])
    return paths


def sequential_ffprobe(paths: list[str]) -> float:
    """files/s of one ffprobe after the other."""
    t0 = time.perf_counter()
    for path in paths:
        subprocess.run(["ffprobe", *FFPROBE_ARGS, path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
    return len(paths) / (time.perf_counter() - t0)


def xargs_ffprobe(paths: list[str], parallel: int) -> float:
    """files/s of ``xargs -0 -n 1 -P parallel ffprobe ...``."""
    t0 = time.perf_counter()
    subprocess.run(["xargs", "-0", "-n", "1", "-P", str(parallel), "ffprobe", *FFPROBE_ARGS],
                   input="\0".join(paths).encode(), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return len(paths) / (time.perf_counter() - t0)


def poll_status(f: Fabric, job_id: str, stop: threading.Event, out: list[float]) -> None:
    """STATUS of the job one after the other until stop, latencies in ms."""
    with f.client() as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            c.status(job_id)
            out.append((time.perf_counter() - t0) * 1000)
            stop.wait(STATUS_GAP_S)  # a watcher, not a CPU hog racing the probes


def probe_job(f: Fabric, lib: str, n: int) -> tuple[float, list[float]]:
    """(files/s of one probe job over lib, STATUS latencies in ms meanwhile)."""
    latencies: list[float] = []
    stop = threading.Event()
    with f.client() as c:
        job = c.start("probe", [lib], {})
        poller = threading.Thread(target=poll_status, args=(f, job["id"], stop, latencies))
        poller.start()
        try:
            done = c.wait(job["id"], timeout_s=WAIT_S, poll_s=0.2)
        finally:
            stop.set()
            poller.join()
    if done["status"] != "completed" or done["result"].get("ok") != n:
        raise RuntimeError(f"probe job ended {done['status']}: {done.get('error')} "
                           f"{done.get('result')}")
    return n / (done["finished"] - done["started"]), latencies


def mkvpropedit_loop(paths: list[str], uids: list[int]) -> float:
    """edits/s of a sequential mkvpropedit loop flipping the two audio tracks by UID."""
    t0 = time.perf_counter()
    for path in paths:
        subprocess.run(["mkvpropedit", "-q", path, "--edit", f"track:={uids[0]}", "--set",
                        "flag-default=0", "--edit", f"track:={uids[1]}", "--set",
                        "flag-default=1"], check=True, stdout=subprocess.DEVNULL)
    return len(paths) / (time.perf_counter() - t0)


def audio_uids(path: str) -> list[int]:
    """UIDs of the audio tracks of an MKV (mkvmerge -J)."""
    data = json.loads(subprocess.run(["mkvmerge", "-J", path], capture_output=True,
                                     check=True).stdout)
    return [t["properties"]["uid"] for t in data["tracks"] if t["type"] == "audio"]


def audio_default_job(f: Fabric, lib: str, n: int, languages: list[str]) -> float:
    """edits/s of one audio-default job over lib (plan and apply)."""
    with f.client() as c:
        done = c.wait(c.start("audio-default", [lib], {"languages": languages})["id"],
                      timeout_s=WAIT_S, poll_s=0.2)
    if done["status"] != "completed" or done["result"].get("changed") != n:
        raise RuntimeError(f"audio-default job ended {done['status']}: {done.get('error')} "
                           f"{done.get('result')}")
    return n / (done["finished"] - done["started"])


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=300, help="videos to probe")
    p.add_argument("--edits", type=int, default=100, help="MKV files for audio-default")
    p.add_argument("--rounds", type=int, default=3, help="rounds of each figure")
    p.add_argument("--quick", action="store_true", help="60 files, 30 edits, one round")
    return p


def main() -> int:
    args = parser().parse_args()
    files, edits, rounds = (60, 30, 1) if args.quick else (args.files, args.edits, args.rounds)
    for tool in ("ffmpeg", "ffprobe", "xargs", "mkvmerge", "mkvpropedit"):
        if shutil.which(tool) is None:
            print(f"bench_probe: {tool} is not installed; skipped", file=sys.stderr)
            return 0
    with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp, \
            Fabric(workers=2, slots=1, root=os.path.realpath(tmp)) as f:
        lib = os.path.join(f.root, "probe")
        paths = make_videos(lib, files)
        job, seq, xargs, status = [], [], [], []
        for _ in range(rounds):  # side by side in each round, so load affects all three
            rate, latencies = probe_job(f, lib, files)
            job.append(rate)
            status.append(latencies)
            seq.append(sequential_ffprobe(paths))
            xargs.append(xargs_ffprobe(paths, 2))
        show("ours", f"probe job, {files} videos, 2 workers", job, "files/s",
             target=">= 0.9x xargs -P 2, >= 1.8x sequential")
        show("old", "sequential ffprobe loop", seq, "files/s")
        show("xargs", "xargs -P 2 ffprobe", xargs, "files/s")
        show("ours", "probe job / xargs -P 2", [a / b for a, b in zip(job, xargs, strict=True)],
             "x", target=">= 0.9")
        show("ours", "probe job / sequential", [a / b for a, b in zip(job, seq, strict=True)],
             "x", target=">= 1.8")
        show_latency("ours", "STATUS during the probe", status)

        mkv = os.path.join(f.root, "mkv")
        edit_paths = make_videos(mkv, edits)
        uids = audio_uids(edit_paths[0])
        ours, loop = [], []
        for r in range(rounds):  # jpn, then eng, then jpn: each round changes every file
            ours.append(audio_default_job(f, mkv, edits, ["jpn"] if r % 2 == 0 else ["eng"]))
        for r in range(rounds):
            loop.append(mkvpropedit_loop(edit_paths, uids if r % 2 == 0 else uids[::-1]))
        show("ours", f"audio-default job, {edits} MKV (plan + apply)", ours, "edits/s")
        show("tool", "sequential mkvpropedit loop (no read, no plan)", loop, "edits/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
