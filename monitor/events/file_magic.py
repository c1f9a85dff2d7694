"""What an input file is, by its first bytes: a person who gives the hourly file where
events go (or the reverse, or an export still compressed) is told so, instead of 206
``malformed_json`` dead letters or numpy's advice to load the file "unsafely".

>>> looks_like(b"PK\\x03\\x04\\x14\\x00")
'a zip archive (an .npz, a spreadsheet?)'
>>> looks_like(b'{"type": "kpi"') is None
True
"""

from __future__ import annotations

from pathlib import Path

HEAD_BYTES = 16  # enough for every signature below
# each holds a byte text does not (a control byte, or one UTF-8 forbids there): a CSV
# header may well begin "PAR1" or "BZh", so Parquet and bzip2 are not told by these
ZIP = b"PK\x03\x04"  # an .npz (the hourly file), an .xlsx
_SIGNATURES = (
    (ZIP, "a zip archive (an .npz, a spreadsheet?)"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\x1f\x8b", "gzip-compressed (decompress it first: <(zcat FILE))"),
    (b"\xfd7zXZ\x00", "xz-compressed (decompress it first: <(xzcat FILE))"),
    (b"(\xb5/\xfd", "zstd-compressed (decompress it first: <(zstdcat FILE))"),
    (b"\x93NUMPY", "one numpy array (.npy), not an hourly .npz file"),
    (b"SQLite format 3\x00", "an SQLite database"),
)


def looks_like(head: bytes) -> str | None:
    """What a file starting with ``head`` is, when it is a kind known not to be text."""
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    return None


def file_head(path: Path) -> bytes:
    """The first bytes of a regular file; nothing of a pipe (it can be read only once)."""
    if not path.is_file():
        return b""
    with path.open("rb") as fh:
        return fh.read(HEAD_BYTES)
