"""GitHub: the Actions runtime and the REST API."""
