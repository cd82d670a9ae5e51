"""A body's Content-Encoding undone whole or refused whole (streams.ingest.content_encoding)."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from streams.ingest.body import MalformedBody
from streams.ingest.content_encoding import TooLarge, UnsupportedEncoding, decoded

LINES = b"".join(b'{"event_id": "e%d"}\n' % n for n in range(200))
LIMIT = 1_000_000


def test_gzip_deflate_raw_deflate_and_several_gzip_members_decode() -> None:
    assert decoded(gzip.compress(LINES), "gzip", LIMIT) == LINES
    assert decoded(gzip.compress(LINES), " GZIP ", LIMIT) == LINES
    assert decoded(zlib.compress(LINES), "deflate", LIMIT) == LINES
    raw = zlib.compressobj(wbits=-15)
    assert decoded(raw.compress(LINES) + raw.flush(), "deflate", LIMIT) == LINES
    two = gzip.compress(LINES[:100]) + gzip.compress(LINES[100:])
    assert decoded(two, "gzip", LIMIT) == LINES
    assert decoded(gzip.compress(gzip.compress(LINES)), "gzip, gzip", LIMIT) == LINES
    assert decoded(LINES, "", LIMIT) == decoded(LINES, "identity", LIMIT) == LINES


@pytest.mark.parametrize("cut", [8, 4, 200])
def test_a_gzip_stream_cut_short_is_refused_whole(cut: int) -> None:
    """Without its end (the checksum, or a flushed stream never closed) the body was read as
    the events before the cut, answered 202, and the rest lost."""
    whole = gzip.compress(LINES)
    with pytest.raises(MalformedBody, match="cut short"):
        decoded(whole[:-cut], "gzip", LIMIT)


def test_a_sync_flushed_stream_never_closed_is_refused() -> None:
    compressor = zlib.compressobj(wbits=31)
    flushed = compressor.compress(LINES[:300]) + compressor.flush(zlib.Z_SYNC_FLUSH)
    with pytest.raises(MalformedBody, match="cut short"):
        decoded(flushed, "gzip", LIMIT)


@pytest.mark.parametrize(
    ("body", "coding"),
    [(b"\x1f\x8b\x08\x00garbage", "gzip"), (b"notdeflate", "deflate"), (LINES, "gzip")],
)
def test_bytes_that_are_not_the_coding_are_a_400(body: bytes, coding: str) -> None:
    with pytest.raises(MalformedBody, match=f"Content-Encoding \\({coding}\\)"):
        decoded(body, coding, LIMIT)


@pytest.mark.parametrize("coding", ["br", "zstd", "xyz", "gzip, br"])
def test_an_encoding_not_read_here_is_named(coding: str) -> None:
    with pytest.raises(UnsupportedEncoding, match="is not read here"):
        decoded(LINES, coding, LIMIT)


def test_a_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"0" * 50_000_000)
    with pytest.raises(TooLarge):
        decoded(bomb, "gzip", LIMIT)
    assert len(decoded(gzip.compress(b"0" * LIMIT), "gzip", LIMIT)) == LIMIT


def test_zeros_after_a_gzip_stream_are_padding_and_other_bytes_are_named() -> None:
    """A writer that pads to a block size leaves zeros after the last member (gzip and
    Python's gzip skip them); anything else after the end was called "cut short"."""
    assert decoded(gzip.compress(LINES) + b"\0" * 512, "gzip", LIMIT) == LINES
    for trailer, coding, body in [
        (b"\n", "gzip", gzip.compress(LINES)),
        (b"\0\0junk", "gzip", gzip.compress(LINES)),
        (b"\n", "deflate", zlib.compress(LINES)),
    ]:
        with pytest.raises(MalformedBody, match="bytes that are not part of it follow the end"):
            decoded(body + trailer, coding, LIMIT)


def test_many_codings_are_refused_before_any_is_undone() -> None:
    """Several Content-Encoding headers are one list: 12,000 stored gzip layers (434 KB)
    took 1.3 s to undo and the cost grows as their square; at most three are read."""
    body = LINES
    for _ in range(3):
        body = gzip.compress(body, compresslevel=0)
    assert decoded(body, "gzip, gzip, identity, gzip", LIMIT) == LINES
    with pytest.raises(UnsupportedEncoding, match="lists 4 codings, more than the 3"):
        decoded(gzip.compress(body), ", ".join(["gzip"] * 4), LIMIT)


def test_zeros_between_gzip_members_are_padding_and_an_empty_body_is_named() -> None:
    two = gzip.compress(LINES[:100]) + b"\0" * 64 + gzip.compress(LINES[100:])
    assert decoded(two, "gzip", LIMIT) == gzip.decompress(two) == LINES
    for coding in ("gzip", "deflate"):
        with pytest.raises(MalformedBody, match="the body is empty"):
            decoded(b"", coding, LIMIT)


def test_many_gzip_members_are_read_in_linear_time_and_bounded() -> None:
    """262,000 empty gzip members after a real one (5 MB) took 24 s: zlib copied the rest
    of the body at each member's end. Read in chunks now, and refused past MAX_MEMBERS."""
    from streams.ingest.content_encoding import MAX_MEMBERS

    many = gzip.compress(b"[1]") + gzip.compress(b"") * (MAX_MEMBERS - 1)
    assert decoded(many, "gzip", 5 * 1024 * 1024) == b"[1]"
    with pytest.raises(MalformedBody, match="more than 1,000 gzip members in a row"):
        decoded(many + gzip.compress(b""), "gzip", 5 * 1024 * 1024)
    noise = random.Random(1).randbytes(150_000)  # a member over several chunks
    spread = gzip.compress(noise) + b"\0" * 200_000 + gzip.compress(b"b" * 70_000)
    assert decoded(spread, "gzip", 5 * 1024 * 1024) == noise + b"b" * 70_000
    with pytest.raises(MalformedBody, match="it ends before its end"):
        decoded(gzip.compress(noise)[:-9], "gzip", 5 * 1024 * 1024)
