"""The HTTP service: FastAPI app, runtime, composition root (see README: The HTTP service)."""
