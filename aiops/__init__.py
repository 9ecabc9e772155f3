"""aiops: a self-hosted AIOps event-correlation engine."""

__version__ = "0.1.0"
