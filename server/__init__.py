"""Answers and serves: the FastAPI app, its API and its Jinja2 pages."""
