"""The one error of the local broker's life cycle (re-exported by ``control``)."""


class BrokerError(Exception):
    """Why the local broker cannot be fetched, started, found or stopped: one line a user
    can act on (the CLI prints it as is)."""
