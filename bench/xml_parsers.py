"""Measure the two hardened XML parsers on the bundled arXivRaw samples.

Usage: python bench/xml_parsers.py [--repeat N]

Streams every <record> of the real OAI-PMH arXivRaw pages (replicated to a
large page) through lxml.iterparse (entities, DTD and network off) and
through defusedxml.ElementTree.iterparse (forbid_dtd), clearing as it goes,
and prints records/s for each. The toolkit uses the faster one; both refuse
entity expansion.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

from defusedxml import ElementTree as DefusedET
from lxml import etree

SAMPLES = (
    Path(os.environ.get("PITH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    / "samples/arxiv/oai"
)
OAI = "{http://www.openarchives.org/OAI/2.0/}record"


def big_page(repeat: int) -> bytes:
    page = (SAMPLES / "litpuvn_arXivRaw_ListRecords_2016-10-21_prettyprinted.xml").read_bytes()
    head, rest = page.split(b"<record>", 1)
    body, tail = rest.rsplit(b"</record>", 1)
    records = b"<record>" + body + b"</record>"
    return head + records * repeat + tail


def run_lxml(data: bytes) -> int:
    n = 0
    for _, elem in etree.iterparse(
        io.BytesIO(data),
        events=("end",),
        tag=OAI,
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
    ):
        n += 1
        elem.clear()
        while elem.getprevious() is not None:
            del elem.getparent()[0]  # type: ignore[union-attr]
    return n


def run_defused(data: bytes) -> int:
    n = 0
    for _, elem in DefusedET.iterparse(io.BytesIO(data), events=("end",), forbid_dtd=True):
        if elem.tag == OAI:
            n += 1
            elem.clear()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    data = big_page(args.repeat)
    print(f"input: {len(data) / 1e6:.1f} MB of real arXivRaw records")
    for name, fn in (("lxml.iterparse", run_lxml), ("defusedxml.iterparse", run_defused)):
        start = time.perf_counter()
        n = fn(data)
        rate = n / (time.perf_counter() - start)
        print(f"{name:22s} {rate:12,.0f} records/s ({n} records)")


if __name__ == "__main__":
    main()
