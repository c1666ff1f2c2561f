"""The perf_event program type: sampling on a hardware or software event.

``attach ID perf_event --event NAME (--frequency HZ | --period N) [--cpu N | --pid PID]``;
with neither a CPU nor a PID the program samples on every online CPU, one perf
event per CPU, all under one bpfman link.
"""
