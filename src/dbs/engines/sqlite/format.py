"""The SQLite backup format: one stream holding a byte-exact database image.

A backup set made by this engine has a single stream, ``main.sqlite``: the
database file as SQLite's online backup API copied it (every page, in page
order, no ``-wal`` needed). Writing that stream to a file gives back a
database SQLite opens directly. The stream is cut only on page boundaries, so
a page that did not change between two backups deduplicates.
"""

from __future__ import annotations

FORMAT_VERSION = 1
DATABASE_STREAM = "main.sqlite"
# SQLite's name for the main database; objects are listed as ``main.<table>``.
SCHEMA_NAME = "main"
# Read the snapshot in pieces this large: a multiple of every legal page size.
READ_PIECE = 1 << 20
SQLITE_HEADER = b"SQLite format 3\x00"
