"""Bundled data: demo.csv, a small seeded dataset in the sample interchange format
(regenerate with ``python -m fastpath.data.make_demo``)."""

import pathlib

DEMO_CSV = pathlib.Path(__file__).with_name("demo.csv")
