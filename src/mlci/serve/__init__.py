"""``mlci serve``: the prediction service (Starlette on uvicorn, an optional extra)."""
