"""Reproducible throughput, latency and quality measurements (python -m benchmarks.<name>)."""
