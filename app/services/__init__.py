"""Use cases: what the JSON API and the leaders' page both call."""
