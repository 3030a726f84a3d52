"""minihbase: a real, multi-process, networked mini-HBase. See README.md and docs/."""

__version__ = "0.1.0"
