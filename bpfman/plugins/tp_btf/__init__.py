"""The tp_btf program type: a BTF-enabled tracepoint chosen at load.

``--programs tp_btf:FUNC:TRACEPOINT``, or ``tp_btf:FUNC`` for a program whose
section names it (``tp_btf/sched_switch``); ``attach ID tp_btf`` takes no option.
"""
