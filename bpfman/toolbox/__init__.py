"""bpftool's ``prog`` toolbox for any loaded program: instruction dumps, test
runs, profiling, the trace pipe, run statistics and Prometheus metrics.

Each module is imported only by the command that needs it, so the rest of the
CLI does not pay for capstone or prometheus_client.
"""
