"""The dashboard and REST API: a FastAPI app over the state database the runner writes."""
