"""Helix: the HLX 3-brain mixture-of-experts training and serving system."""

__version__ = "0.1.0"
