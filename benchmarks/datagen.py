"""Dump-like test data generated on the fly, at GB/s, in bounded memory.

A 16 MiB corpus of realistic rows (ids, numbers, dates, hex hashes, JSON) is
made once; each 4 MiB output block is a slice of it passed through a fresh
random byte permutation (newline kept fixed). The permutation keeps zstd's
compressibility (matches and symbol statistics survive a byte relabelling) but
makes every block unique, so deduplication cannot flatter the figures.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator

BLOCK = 4 << 20
CORPUS = 16 << 20


def _corpus(seed: int) -> bytes:
    rnd = random.Random(seed)
    rows: list[str] = []
    size = 0
    i = 0
    while size < CORPUS:
        digest = hashlib.sha1(f"{seed}:{i}".encode()).hexdigest()
        row = (
            f"{i}\t{rnd.randint(1, 10**7)}\t{rnd.random() * 10000:.2f}\t"
            f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d} "
            f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}\t"
            f'{digest}\t{{"status": "{rnd.choice(["new", "paid", "shipped", "void"])}", '
            f'"qty": {rnd.randint(1, 50)}, "sku": "SKU-{rnd.randint(0, 99999):05d}"}}\n'
        )
        rows.append(row)
        size += len(row)
        i += 1
    return "".join(rows).encode()[:CORPUS]


def dump_like(total: int, seed: int = 1) -> Iterator[bytes]:
    """``total`` bytes of unique, 2-3x compressible, newline-delimited rows, in 4 MiB pieces."""
    corpus = _corpus(seed)
    rnd = random.Random(seed)
    sent = 0
    n = 0
    while sent < total:
        symbols = [b for b in range(256) if b != 0x0A]
        rnd.shuffle(symbols)
        table = list(range(256))
        for src, dst in zip((b for b in range(256) if b != 0x0A), symbols, strict=True):
            table[src] = dst
        start = (n * BLOCK) % (CORPUS - BLOCK + 1)
        block = corpus[start : start + BLOCK].translate(bytes(table))
        take = min(len(block), total - sent)
        yield block[:take]
        sent += take
        n += 1
