"""Reliability: schema fuzzing, hostile input, secrets, crashes and outages."""
