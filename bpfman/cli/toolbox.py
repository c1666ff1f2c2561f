"""``dump``, ``run``, ``profile`` and ``tracelog``: bpftool's prog toolbox.

They work on any program in the kernel, as bpftool does, not only on the
ones bpfman loaded. The work is in :mod:`bpfman.toolbox`; these commands
turn flags into calls and render the result.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from .app import App
from .options import BpfmanCommand, BpfmanGroup, HelpArgument, id_argument, output_option

if TYPE_CHECKING:
    from bpfman.kernel.image import ProgImage

pass_app = click.make_pass_decorator(App)
U32_MAX = 0xFFFFFFFF

PROGRAM_HELP = "Required: Program Id (any program loaded in the kernel)."
OUTPUT_FILE_HELP = (
    "Optional: Write the raw instruction bytes to this file instead of\n"
    "disassembling them (bpftool's `file`)."
)
OPCODES_HELP = "Optional: Also print the raw bytes of each instruction."


@click.group(cls=BpfmanGroup)
def dump() -> None:
    """Dump the instructions of a loaded eBPF program (translated or JITed)."""


def _image(program_id: int) -> ProgImage:
    from bpfman import kernel
    from bpfman.kernel.image import prog_image

    with kernel.prog_fd_by_id(program_id) as fd:
        return prog_image(fd.fd)


def _image_to_show(
    app: App, program_id: int, output: str, output_file: str | None, which: str
) -> ProgImage | None:
    """The program's image, or None once its raw ``which`` bytes went to ``output_file``."""
    from bpfman.toolbox.run import write_file

    app.output = output
    image = _image(program_id)
    if output_file is None:
        return image
    data: bytes = getattr(image, which)
    write_file(output_file, data, "instructions")
    app.emit("", {"file": os.path.abspath(output_file), "bytes": len(data)})
    return None


@dump.command("xlated", cls=BpfmanCommand)
@id_argument("program_id", PROGRAM_HELP)
@click.option("--opcodes", is_flag=True, help=OPCODES_HELP)
@click.option(
    "--linum",
    is_flag=True,
    help="Optional: Show the file, line and column of each source line (from BTF line info).",
)
@click.option("--output-file", help=OUTPUT_FILE_HELP)
@output_option
@pass_app
def dump_xlated(
    app: App, program_id: int, opcodes: bool, linum: bool, output_file: str | None, output: str
) -> None:
    """Dump the translated eBPF instructions of a program, numbered as bpftool numbers them.

    Calls name their helper or kernel function, maps show as map[id:N], and
    source lines from BTF line info precede the instructions they produced.
    """
    from bpfman.toolbox import xlated

    image = _image_to_show(app, program_id, output, output_file, "xlated")
    if image is not None:
        insns = xlated.xlated(image)
        app.emit(
            xlated.render_text(insns, opcodes, linum), xlated.render_json(insns, opcodes, linum)
        )


@dump.command("jited", cls=BpfmanCommand)
@id_argument("program_id", PROGRAM_HELP)
@click.option("--opcodes", is_flag=True, help=OPCODES_HELP)
@click.option("--output-file", help=OUTPUT_FILE_HELP)
@output_option
@pass_app
def dump_jited(
    app: App, program_id: int, opcodes: bool, output_file: str | None, output: str
) -> None:
    """Dump the native code the JIT compiled a program to (x86-64, arm64)."""
    from bpfman.toolbox import jited

    image = _image_to_show(app, program_id, output, output_file, "jited")
    if image is not None:
        insns = jited.jited(image)
        app.emit(jited.render_text(insns, opcodes), jited.render_json(insns, opcodes))


@click.command("run", cls=BpfmanCommand)
@id_argument("program_id", PROGRAM_HELP)
@click.option(
    "--data-in",
    required=True,
    help="Required: File holding the input data (a packet for xdp and tc).\n'-' reads stdin.",
)
@click.option(
    "--data-out",
    help="Optional: File for the output data; '-' prints it to stdout.",
)
@click.option(
    "--data-size-out",
    type=click.IntRange(1, U32_MAX),
    help="Optional: Room for the output data in bytes [default: 32768].",
)
@click.option("--ctx-in", help="Optional: File holding the input context; '-' reads stdin.")
@click.option("--ctx-out", help="Optional: File for the output context; '-' prints it to stdout.")
@click.option(
    "--ctx-size-out",
    type=click.IntRange(1, U32_MAX),
    help="Optional: Room for the output context in bytes [default: 32768].",
)
@click.option(
    "--repeat",
    type=click.IntRange(1, 0x7FFFFFFF),
    default=1,
    show_default=True,
    help="Optional: Run this many times; the duration is the average.",
)
@output_option
@pass_app
def run(
    app: App,
    /,
    program_id: int,
    data_in: str,
    data_out: str | None,
    data_size_out: int | None,
    ctx_in: str | None,
    ctx_out: str | None,
    ctx_size_out: int | None,
    repeat: int,
    output: str,
) -> None:
    """Run a loaded eBPF program on test input (BPF_PROG_TEST_RUN).

    As bpftool prog run does: prints the return value and the average
    duration of a run; the output packet and context go where asked.
    """
    from bpfman.toolbox.run import RunRequest, run_program

    app.output = output
    request = RunRequest(data_in, data_out, data_size_out, ctx_in, ctx_out, ctx_size_out, repeat)
    result = run_program(program_id, request)
    app.emit(result.text(), result.json())


def _metric_names() -> list[str]:
    from bpfman.toolbox.profile import METRICS

    return list(METRICS)


@click.command("profile", cls=BpfmanCommand)
@id_argument("program_id", PROGRAM_HELP)
@click.argument(
    "metrics",
    nargs=-1,
    required=True,
    cls=HelpArgument,
    type=click.Choice(_metric_names()),
    metavar="<METRICS>...",
    help="Required: What to count: " + ", ".join(_metric_names()) + ".",
)
@click.option(
    "--duration",
    type=click.IntRange(1, U32_MAX),
    help="Optional: Seconds to profile; until Ctrl-C if not given.",
)
@output_option
@pass_app
def profile(
    app: App, program_id: int, metrics: tuple[str, ...], duration: int | None, output: str
) -> None:
    """Count CPU events of a loaded eBPF program while it runs.

    As bpftool prog profile does: an fentry/fexit pair around the program
    reads the counters, so the kernel must allow fentry. cpu_clock is the
    software clock (ns): it counts where there are no hardware counters,
    e.g. in virtual machines.
    """
    from bpfman.toolbox.profile import profile as run_profile

    app.output = output
    result = run_profile(program_id, list(metrics), duration)
    app.emit(result.text(), result.json())


@click.command("tracelog", cls=BpfmanCommand)
def tracelog() -> None:
    """Stream the kernel trace pipe (bpf_printk output) until Ctrl-C.

    tracefs is mounted at /sys/kernel/tracing if it is mounted nowhere.
    """
    from bpfman.toolbox.tracelog import stream

    stream(sys.stdout.buffer)
    # A reader that went away (`| head`) must not cost a traceback at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
