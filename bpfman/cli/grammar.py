"""The flags of the commands scripts run in loops, defined once for both parsers.

``list programs``, ``list links`` and ``load file`` run without click when
invoked plainly (:mod:`bpfman.cli.fast`); the full CLI builds their click
options, and the global ones, from the same :class:`Flag` rows
(:func:`bpfman.cli.options.flag_options`), so the two parsers cannot take
different flags. Plain data in a slotted class: a frozen dataclass costs the
fast path 2 ms to create, and a NamedTuple the import of :mod:`typing`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    Takes = Literal["flag", "one", "many", "each"]


class Flag:
    """One option of a command.

    :param takes: how it takes values: ``flag`` none, ``one`` the next word,
        ``many`` every following word up to the next flag (as ``--programs``
        does in the reference CLI), ``each`` one word per occurrence.
    :param help: its help; ``{types}`` stands for the installed program types
        and ``{program_types}`` for the kernel type names the filter takes,
        both filled in when the help is shown.
    :param kind: ``id`` for an unsigned 32-bit id; otherwise a string.
    :param default: shown in the help, and used when the flag is not given.
    """

    __slots__ = (  # noqa: RUF023 -- the constructor's order
        "opts", "dest", "takes", "help", "required", "kind", "choices", "default", "envvar",
        "metavar",
    )  # fmt: skip

    def __init__(
        self,
        opts: tuple[str, ...],
        dest: str,
        takes: Takes = "one",
        help: str = "",
        required: bool = False,
        kind: Literal["", "id"] = "",
        choices: tuple[str, ...] = (),
        default: str | None = None,
        envvar: str | None = None,
        metavar: str | None = None,
    ) -> None:
        self.opts, self.dest, self.takes, self.help = opts, dest, takes, help
        self.required, self.kind, self.choices = required, kind, choices
        self.default, self.envvar, self.metavar = default, envvar, metavar


# -- global options -------------------------------------------------------------------
ROOT = Flag(
    ("--root", "--runtime-dir"),
    "root",
    help="""State and bpffs root directory; --runtime-dir is the same option, as the
reference's current CLI spells it [default: /run/bpfman; env BPFMAN_ROOT].""",
    envvar="BPFMAN_ROOT",
)
LOCK_TIMEOUT = Flag(
    ("--lock-timeout",),
    "lock_timeout",
    help="""Seconds a command that changes something waits for another one that holds
the state lock before it gives up with exit status 10; after one second it says
which process it waits for [default: forever; env BPFMAN_LOCK_TIMEOUT].""",
    envvar="BPFMAN_LOCK_TIMEOUT",
    metavar="SECONDS",
)
VERBOSE = Flag(
    ("-v", "--verbose"), "verbose", "flag", help="Log debug messages (libbpf's too) to stderr."
)
GLOBAL = (ROOT, LOCK_TIMEOUT, VERBOSE)

OUTPUT = Flag(
    ("-o", "--output"),
    "output",
    help="Optional: Output format; json is for scripts.",
    choices=("table", "json"),
    default="table",
)

# -- load ----------------------------------------------------------------------------
LOAD = (
    Flag(
        ("--programs",),
        "programs",
        "many",
        required=True,
        help="""Required: The program type and eBPF function name that is the entry point
for the eBPF program.
Format <TYPE>:<FUNC_NAME>

For fentry and fexit, the function that is being attached to is also
required at load time, so the format for fentry and fexit includes attach
function.
Format <TYPE>:<FUNC_NAME>:<ATTACH_FUNC>

For lsm and tp_btf it is optional: the LSM hook or the tracepoint, needed
when the program's section does not name it (lsm/file_open, tp_btf/sched_switch).

If the bytecode file contains multiple eBPF programs that need to be
loaded, multiple eBPF programs can be entered by separating each
<TYPE>:<FUNC_NAME> pair with a space.
Example: --programs xdp:xdp_stats kprobe:kprobe_counter
Example: --programs fentry:test_fentry:do_unlinkat
Example: --programs lsm:deny_open:file_open

[possible values for <TYPE>: {types}]""",
    ),
    Flag(
        ("-g", "--global"),
        "global_",
        "many",
        help="""Optional: Global variables to be set when program is loaded.
Format: <NAME>=<Hex Value>

This is a very low level primitive. The caller is responsible for formatting
the byte string appropriately considering such things as size, endianness,
alignment and packing of data structures. Multiple values can be entered by
separating each <NAME>=<Hex Value> pair with a space.
Example: -g GLOBAL_u8=01 GLOBAL_u32=0A0B0C0D""",
    ),
    Flag(
        ("-a", "--application"),
        "application",
        help="""Optional: Application is used to group multiple programs that are loaded together
under the same load command. This actually creates a special <KEY>=<VALUE> in the
metadata parameter. It can be used to filter on list commands.
Example: --application TestEbpfApp""",
    ),
    Flag(
        ("-m", "--metadata"),
        "metadata",
        "each",
        help="""Optional: Specify Key/Value metadata to be attached to a program when it
is loaded by bpfman.
Format: <KEY>=<VALUE>

This can later be used to `list` a certain subset of programs which contain
the specified metadata.
Example: --metadata owner=acme""",
    ),
    Flag(
        ("--map-owner-id",),
        "map_owner_id",
        kind="id",
        help="""Optional: Program Id of loaded eBPF program this eBPF program will share a map with.
Only used when multiple eBPF programs need to share a map.
Example: --map-owner-id 63178""",
    ),
    OUTPUT,
)
LOAD_FILE = (
    *LOAD,
    Flag(
        ("-p", "--path"),
        "path",
        required=True,
        help="Required: Location of local bytecode file\n"
        "Example: --path /run/bpfman/examples/go-xdp-counter/bpf_x86_bpfel.o",
    ),
)

# -- list ----------------------------------------------------------------------------
PROGRAM_TYPE_HELP = """Optional: List {what} of one program type, named as bpfman names it
(--programs, attach) or as the kernel does. A name that is both keeps the
kernel's meaning: tc selects tc, tcx and netkit programs, probe every kprobe
and uprobe program, tracing fentry, fexit and tp_btf programs.{more}
Example: --program-type tcx

{program_types}"""


def _list(what: str, more: str = "") -> tuple[Flag, ...]:
    """The filters ``list programs`` and ``list links`` share, worded for ``what``."""
    return (
        Flag(
            ("-p", "--program-type"),
            "program_type",
            help=PROGRAM_TYPE_HELP.format(what=what, more=more, program_types="{program_types}"),
        ),
        Flag(
            ("--application",),
            "application",
            help=f"Optional: List {what} loaded under the same application tag.\n"
            "Example: --application go-app",
        ),
        Flag(
            ("-m", "--metadata-selector"),
            "metadata_selector",
            "each",
            help="""Optional: List programs which contain a specific set of metadata labels
that were applied when the program was loaded with `--metadata` parameter.
Format: <KEY>=<VALUE>
Example: --metadata-selector owner=acme""",
        ),
        OUTPUT,
        Flag(
            ("-q", "--quiet"),
            "quiet",
            "flag",
            help=f"Optional: Print only the {what.split()[0][:-1]} ids, one a line.",
        ),
    )


LIST_PROGRAMS = (
    *_list(
        "programs",
        """ With --all, a
bpfman type lists the kernel's programs of its kernel type too.""",
    ),
    Flag(
        ("-l", "--selector"),
        "selector",
        "each",
        help="""Optional: List programs whose metadata matches a label selector, as
Kubernetes writes them: <KEY>=<VALUE> and <KEY>!=<VALUE> (which also
matches programs without the key), <KEY> (has it), !<KEY> (lacks it),
separated by commas; all must hold.
Example: -l owner=acme,env!=dev""",
    ),
    Flag(("--attached",), "attached", "flag", help="Optional: List only programs with links."),
    Flag(
        ("--unattached",), "unattached", "flag", help="Optional: List only programs without links."
    ),
    Flag(("-a", "--all"), "all_", "flag", help="Optional: List all programs."),
)
# ``--program-type`` as ``list programs`` words it (bpfctl's list takes it too).
PROGRAM_TYPE = LIST_PROGRAMS[0]
LIST_LINKS = (
    *_list("links of programs"),
    Flag(
        ("--program-id",),
        "program_id",
        kind="id",
        help="Optional: List the links of this program.",
    ),
    Flag(
        ("--kind",),
        "kind",
        "each",
        help="""Optional: List links of these types (the attach subcommands' names),
comma-separated or repeated.
Example: --kind xdp,tcx""",
    ),
)
