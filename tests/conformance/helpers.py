"""Small helpers shared by the conformance tests (no `dropbox` import at module level)."""

from __future__ import annotations

import hashlib
import json

BLOCK = 4 * 1024 * 1024


def content_hash(data: bytes) -> str:
    """Dropbox's content hash: SHA-256 over the SHA-256 of each 4 MiB block."""
    digests = b"".join(hashlib.sha256(data[i : i + BLOCK]).digest() for i in range(0, len(data), BLOCK))
    return hashlib.sha256(digests).hexdigest()


def list_all(dbx, path: str, **kw):
    """Every entry of a listing, following has_more; returns (entries, final cursor)."""
    res = dbx.files_list_folder(path, **kw)
    entries = list(res.entries)
    while res.has_more:
        res = dbx.files_list_folder_continue(res.cursor)
        entries += res.entries
    return entries, res.cursor


def continue_all(dbx, cursor: str):
    res = dbx.files_list_folder_continue(cursor)
    entries = list(res.entries)
    while res.has_more:
        res = dbx.files_list_folder_continue(res.cursor)
        entries += res.entries
    return entries, res.cursor


def by_path(entries):
    return {e.path_lower: e for e in entries}


def kind(entry) -> str:
    return type(entry).__name__.replace("Metadata", "").lower()


def sdk_headers(dbx, arg: dict) -> dict:
    """The headers the SDK sends on a content route, for raw `requests` calls."""
    return {
        "Authorization": f"Bearer {dbx._oauth2_access_token}",
        "User-Agent": dbx._user_agent,
        "Dropbox-API-Arg": json.dumps(arg),
    }


def tag_chain(err) -> list[str]:
    """The union tags of a stone error value, outermost first (`['path', 'not_found']`)."""
    out = []
    cur = err
    for _ in range(6):
        tag = getattr(cur, "_tag", None)
        if tag is None:
            break
        out.append(tag)
        val = getattr(cur, "_value", None)
        # Struct members (UploadWriteFailed) carry the nested union in `reason`.
        if val is not None and getattr(val, "_tag", None) is None and hasattr(val, "reason"):
            val = val.reason
        cur = val
    return out
