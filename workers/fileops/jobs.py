"""Small helpers the file-changing kinds share: parameter checks and path resolution.

Everything here runs before a plan is made, so a bad parameter or a path
outside the library roots fails the job with a clear code and changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from medialoom.workers.context import JobContext
from medialoom.workers.errors import JobFailed

__all__ = ["bad_params", "check_job_paths", "choice", "resolve_folder"]


def bad_params(message: str) -> JobFailed:
    """The error for a parameter value the kind cannot use (code job.bad_params, HTTP 400)."""
    return JobFailed(message, code="job.bad_params")


def choice(params: dict[str, Any], name: str, choices: Iterable[str]) -> str:
    """params[name] if it is one of choices, else bad_params naming them."""
    allowed = tuple(choices)
    value = params.get(name)
    if value not in allowed:
        raise bad_params(f"parameter {name!r} must be one of {', '.join(allowed)}, "
                         f"not {value!r}")
    return str(value)


async def check_job_paths(ctx: JobContext) -> list[str]:
    """The job paths as real paths, each checked against the library roots (PathForbidden).

    A path equal to or inside another job path is dropped, so no file is
    planned twice.
    """
    if not ctx.paths:
        raise bad_params(f"kind {ctx.kind!r} needs at least one path")
    real = [await ctx.run_blocking(ctx.check_path, path) for path in ctx.paths]
    return [p for i, p in enumerate(real)
            if not any(_inside(p, q) and (p != q or j < i) for j, q in enumerate(real) if j != i)]


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _root_of(ctx: JobContext, path: str) -> str:
    for root in ctx.roots:
        if _inside(path, root):
            return root
    return ctx.roots[0] if ctx.roots else os.path.dirname(path)


async def resolve_folder(ctx: JobContext, value: str, paths: list[str], default: str) -> str:
    """A folder parameter as a checked real path.

    Absolute values are taken as they are; relative ones are relative to the
    library root holding the first job path; empty means default (likewise).
    PathForbidden when the result lies outside the roots; bad_params when a
    file is in the way.
    """
    text = value or default
    if not os.path.isabs(text):
        text = os.path.join(_root_of(ctx, paths[0]), text)
    real = await ctx.run_blocking(ctx.check_path, text)
    if await ctx.run_blocking(os.path.lexists, real) and not \
            await ctx.run_blocking(os.path.isdir, real):
        raise bad_params(f"{real} is a file, not a folder")
    return real
