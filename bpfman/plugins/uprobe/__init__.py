"""The uprobe program type; uretprobes are uprobe programs in a ``uretprobe`` section."""
