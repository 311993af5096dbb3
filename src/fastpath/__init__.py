"""fastpath: find the Linux kernel commit that made a benchmark slower."""

__version__ = "0.1.0"
