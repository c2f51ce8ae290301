"""Building blocks of the file-changing job kinds (rename, organize, dedupe, rollback).

Pure helpers first (``keys``, ``template``, ``safenames``), then the blocking
file-system primitives (``apply``), the file walk (``walk``) and the one
plan / apply / reconcile driver every file-changing kind uses (``plan``).
SPEC.md section 8 (plans) is the wire side of what ``plan`` produces.
"""
