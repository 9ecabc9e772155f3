"""Format parsers: bytes and lines in, ``aiops.schema`` records out."""
