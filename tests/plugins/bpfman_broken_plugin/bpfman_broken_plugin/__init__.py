"""Broken bpfman plugins, one module each (see pyproject.toml)."""
