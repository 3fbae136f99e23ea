"""The leaders' page: server-rendered Chinese HTML over the same services as the JSON API."""
