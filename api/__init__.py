"""The HTTP service: ``create_app(config, store_or_engine)`` (FastAPI), served by ``aiops serve``."""

from api.app import create_app

__all__ = ["create_app"]
