"""What reading a workbook in a child process costs the common upload: a district's template (11 indicators,
filled in) parsed N times in the request's own process (as before) and through the warm worker pool.

    .venv/bin/python bench/xlsx_parse.py [--n 200]

Prints the median and p95 of each, in milliseconds.
"""

import argparse
import asyncio
import io
import statistics
import sys
import time
from pathlib import Path

import openpyxl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.domain.template import HEADINGS  # noqa: E402
from app.domain.workbook import XLSX, parse_upload  # noqa: E402
from app.services.uploads import UploadParser  # noqa: E402

LIMITS = {"max_values": 10_000, "max_uncompressed": 20 << 20}


def template_like(rows: int = 11) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "填报"
    sheet.append(HEADINGS)
    for i in range(rows):
        sheet.append([f"t{i:02d}-indicator", f"指标名称{i}", "%", "黄岛区", "2024", None, 90 + i, 100, "备注", 88])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def summary(name: str, times: list[float]) -> None:
    ms = sorted(t * 1000 for t in times)
    print(f"{name}: median {statistics.median(ms):.2f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.2f} ms")


async def main(n: int) -> None:
    body = template_like()
    inline = []
    for _ in range(n):
        started = time.perf_counter()
        parse_upload(body, XLSX, **LIMITS)
        inline.append(time.perf_counter() - started)
    parser = UploadParser(workers=2, seconds=10, memory_bytes=512 << 20)
    await parser.parse(body, XLSX, **LIMITS)  # start the workers
    pooled = []
    for _ in range(n):
        started = time.perf_counter()
        await parser.parse(body, XLSX, **LIMITS)
        pooled.append(time.perf_counter() - started)
    parser.close()
    print(f"template of {len(body)} bytes, {n} parses each")
    summary("in the request's process", inline)
    summary("in the worker pool", pooled)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    asyncio.run(main(parser.parse_args().n))
