"""Adapters: vendor call data (Asterisk, FreeSWITCH, CSV) to canonical v1 events."""
