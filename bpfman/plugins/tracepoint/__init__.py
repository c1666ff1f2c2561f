"""The tracepoint program type: ``attach ID tracepoint -t CATEGORY/NAME``."""
