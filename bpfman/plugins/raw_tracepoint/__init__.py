"""The raw_tracepoint program type: ``attach ID raw_tracepoint -t NAME``."""
