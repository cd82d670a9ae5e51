"""callstream: streaming analytics for GP practice cloud telephony."""

__version__ = "0.1.0"
