"""Top-level commands whose modules are imported only when they are used.

``bpfman --help`` lists them from the short help kept here; running one (or
asking for its help) imports its module and hands over to the real command.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# (name, short help, the module under bpfman.cli defining a command of that name)
LAZY_COMMANDS = (
    ("image", "eBPF Bytecode Image related commands.", "image"),
    (
        "dispatcher",
        "Show the XDP and TC dispatchers: their revision, mode and slots.",
        "dispatcher",
    ),
    ("dump", "Dump the instructions of a loaded eBPF program (translated or JITed).", "toolbox"),
    ("run", "Run a loaded eBPF program on test input (BPF_PROG_TEST_RUN).", "toolbox"),
    ("profile", "Count CPU events of a loaded eBPF program while it runs.", "toolbox"),
    ("tracelog", "Stream the kernel trace pipe (bpf_printk output) until Ctrl-C.", "toolbox"),
    (
        "system",
        "bpfman itself: the service, recovery, plugins, run statistics, metrics.",
        "system",
    ),
)


class LazyCommand(click.Command):
    """A stand-in that imports ``bpfman.cli.<module>.<name>`` on first use.

    ``image`` pulls in oras and requests, ``system`` the gRPC stack: ``list``
    and ``--help`` must not pay for them.
    """

    def __init__(self, name: str, short_help: str, module: str) -> None:
        super().__init__(name, short_help=short_help, help=short_help)
        self._module = module
        self._command: click.Command | None = None

    def real(self) -> click.Command:
        if self._command is None:
            module = importlib.import_module(f"bpfman.cli.{self._module}")
            self._command = getattr(module, str(self.name).replace("-", "_"))
        return self._command

    def make_context(self, *args: Any, **extra: Any) -> click.Context:
        return self.real().make_context(*args, **extra)


def resolved(command: click.Command) -> click.Command:
    """The real command behind a lazy stand-in (the command itself otherwise)."""
    return command.real() if isinstance(command, LazyCommand) else command


def lazy_commands() -> list[LazyCommand]:
    return [LazyCommand(name, text, module) for name, text, module in LAZY_COMMANDS]
