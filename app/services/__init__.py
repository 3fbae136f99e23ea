"""Use cases: one verb each, between the routes and the domain rules and store."""
