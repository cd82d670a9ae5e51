"""One module per `callstream` command; streams.cli loads them lazily."""
