"""The lsm program type: a BPF LSM hook chosen at load.

``--programs lsm:FUNC:HOOK``, or ``lsm:FUNC`` for a program whose section names
the hook (``lsm/file_open``); ``attach ID lsm`` takes no option. The kernel
needs CONFIG_BPF_LSM and ``bpf`` in its active LSM list (``lsm=...,bpf``).
"""
