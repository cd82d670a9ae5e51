"""Undo an HTTP body's ``Content-Encoding`` (gzip, deflate) here rather than in aiohttp.

aiohttp inflated bodies as they streamed in and never checked that a gzip stream ended: a
body cut short (a client that did not close its compressor) was read as the events before
the cut and answered 202, so the rest were lost with the client told they were stored.
Here a stream must reach its end (and, for gzip, its checksum) or the body is refused whole;
the decoded size is bounded as it is inflated (a small bomb never grows past the limit);
an encoding we do not read is a 415 the client can act on. Pure: no web server.
"""

from __future__ import annotations

import re
import zlib

from streams.ingest.body import MalformedBody

#: The codings read, by their names in Content-Encoding, with zlib's window bits for them.
_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS
CODINGS = {"gzip": _GZIP, "x-gzip": _GZIP, "deflate": _ZLIB}
#: The most codings a body may have (gzip twice, say): each is undone over the whole body,
#: and thousands of stored gzip layers cost minutes of CPU for a 5 MB body.
MAX_CODINGS = 3
#: The first bytes of every gzip member (RFC 1952).
_GZIP_MAGIC = b"\x1f\x8b"
#: The most gzip members one body may hold: a client sends one (a block compressor a few
#: dozen), and each costs a decompressor; 262,000 empty ones fit in 5 MB.
MAX_MEMBERS = 1000
#: Bytes handed to zlib at a time (``_whole``).
_CHUNK = 64 * 1024
_NOT_ZERO = re.compile(rb"[^\x00]")


class UnsupportedEncoding(Exception):
    """A Content-Encoding other than gzip, deflate or identity (HTTP 415)."""


class TooLarge(Exception):
    """The decoded body is over the limit (HTTP 413)."""


def decoded(raw: bytes, content_encoding: str, limit: int) -> bytes:
    """The body with its codings undone, last applied first; raises MalformedBody for one
    that does not decode or ends early, UnsupportedEncoding, TooLarge. Several
    Content-Encoding headers are one list, comma-joined (RFC 9110, 5.3)."""
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > MAX_CODINGS:
        raise UnsupportedEncoding(
            f"Content-Encoding lists {len(codings):,} codings, more than the {MAX_CODINGS} "
            "read here: send the body compressed once (gzip or deflate), or uncompressed"
        )
    for coding in codings:
        if coding not in CODINGS:
            raise UnsupportedEncoding(
                f"Content-Encoding {coding[:20]!r} is not read here: send the body gzip- or "
                "deflate-compressed, or uncompressed"
            )
    body = raw
    for coding in reversed(codings):
        body = _inflate(body, coding, limit)
    return body


def _inflate(data: bytes, coding: str, limit: int) -> bytes:
    wbits = CODINGS[coding]
    try:
        return _whole(data, wbits, limit)
    except zlib.error:
        if wbits != _ZLIB:
            raise MalformedBody(_cannot(coding, "it is not valid gzip data")) from None
    try:  # "deflate" is zlib-wrapped by the standard, raw by some clients: read both
        return _whole(data, _RAW_DEFLATE, limit)
    except zlib.error:
        raise MalformedBody(_cannot(coding, "it is not valid deflate data")) from None


def _whole(data: bytes, wbits: int, limit: int) -> bytes:
    """Every member of the stream (gzip allows several in a row), each to its end. Fed in
    ``_CHUNK``s: given the whole rest, zlib copies what follows a member's end for each
    member, and 262,000 empty gzip members in 5 MB took 24 s."""
    coding = "gzip" if wbits == _GZIP else "deflate"
    if not data:
        raise MalformedBody(_cannot(coding, "the body is empty"))
    view = memoryview(data)
    parts: list[bytes] = []
    size = pos = 0
    for _ in range(MAX_MEMBERS):
        inflater = zlib.decompressobj(wbits)
        while not inflater.eof:
            if pos >= len(data):
                raise MalformedBody(
                    _cannot(
                        coding,
                        "it ends before its end (cut short: close the compressor before sending)",
                    )
                )
            chunk = view[pos : pos + _CHUNK]
            part = inflater.decompress(chunk, limit + 1 - size)
            size += len(part)
            if size > limit or inflater.unconsumed_tail:
                raise TooLarge(f"the body is over {limit:,} bytes once decompressed")
            parts.append(part)
            pos += len(chunk) - len(inflater.unused_data)
        if wbits == _GZIP:  # zeros after a member pad a block: gzip skips them
            found = _NOT_ZERO.search(data, pos)
            pos = found.start() if found else len(data)
        if pos >= len(data):
            return b"".join(parts)
        if wbits != _GZIP or not data.startswith(_GZIP_MAGIC, pos):
            raise MalformedBody(
                _cannot(
                    coding,
                    f"{len(data) - pos:,} bytes that are not part of it follow the end of its "
                    "stream",
                )
            )
    raise MalformedBody(
        _cannot(coding, f"it is more than {MAX_MEMBERS:,} gzip members in a row: send one")
    )


def _cannot(coding: str, why: str) -> str:
    return (
        f"the body cannot be decoded as its Content-Encoding ({coding}) says: {why}; nothing "
        "was accepted: send it again whole"
    )
