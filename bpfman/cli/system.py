"""``bpfman system``: long-running parts of bpfman (statistics, metrics)."""

from __future__ import annotations

import sys

import click

from .app import App
from .options import BpfmanCommand, BpfmanGroup, output_option

pass_app = click.make_pass_decorator(App)

LISTEN_HELP = """Optional: Address to serve Prometheus metrics on, at /metrics.
Port 0 picks a free port (printed at start).
Example: --listen 127.0.0.1:9464"""


@click.group(cls=BpfmanGroup)
def system() -> None:
    """Run bpfman's long-running services: run statistics, metrics."""


@system.command("stats", cls=BpfmanCommand)
@click.option(
    "--enable",
    is_flag=True,
    help="Optional: Turn the kernel's BPF run statistics on while this command\n"
    "runs (BPF_ENABLE_STATS), until --duration ends or Ctrl-C.",
)
@click.option(
    "--duration",
    type=click.IntRange(1, 0xFFFFFFFF),
    help="Optional: With --enable, seconds to keep statistics on.",
)
@output_option
@pass_app
def stats(app: App, enable: bool, duration: int | None, output: str) -> None:
    """Show or turn on the kernel's run statistics of BPF programs (Run Count, Run Time).

    The kernel counts runs and run time only while statistics are on: while
    the sysctl kernel.bpf_stats_enabled is 1, or while a process holds them
    on, as `bpfman system stats --enable` does. Counting costs a little time
    on every program run.
    """
    from bpfman.kernel.stats import enable_stats, stats_sysctl
    from bpfman.toolbox.hold import hold

    app.output = output
    if duration is not None and not enable:
        raise click.UsageError("--duration needs --enable")
    if not enable:
        state = stats_sysctl()
        text = "unknown (no such sysctl)" if state is None else str(int(state))
        app.emit(
            f"kernel.bpf_stats_enabled = {text}\n"
            "Processes holding statistics on (bpfman system stats --enable) do not show here.",
            {"bpf_stats_enabled": state},
        )
        return
    until = f"for {duration} s" if duration else "until Ctrl-C"

    def announce() -> None:
        app.emit(f"BPF run statistics are on {until}", {"enabled": True, "duration": duration})
        sys.stdout.flush()  # whoever started us may wait for this line

    with enable_stats():
        hold(duration, announce)


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--listen")
    return host.strip("[]"), int(port)


@system.command("metrics", cls=BpfmanCommand)
@click.option("--listen", default="127.0.0.1:9464", show_default=True, help=LISTEN_HELP)
@pass_app
def metrics(app: App, listen: str) -> None:
    """Serve Prometheus metrics of bpfman's programs, links and maps until Ctrl-C."""
    from bpfman.toolbox.hold import hold
    from bpfman.toolbox.metrics import serve

    host, port = _listen(listen)
    server = serve(app.bpfman, host, port)
    url = f"http://{listen.rpartition(':')[0]}:{server.server_address[1]}/metrics"
    try:
        hold(None, lambda: print(f"Serving Prometheus metrics at {url}", flush=True))
    finally:
        server.shutdown()
        server.server_close()
