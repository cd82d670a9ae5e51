"""pydantic models: the contracts at every boundary of callstream."""
