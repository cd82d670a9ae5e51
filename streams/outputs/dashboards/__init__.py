"""Dashboards for practice managers: YAML specs, HTML rendering, the build and the server."""
