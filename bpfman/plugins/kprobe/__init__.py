"""The kprobe program type; kretprobes are kprobe programs in a ``kretprobe/`` section."""
