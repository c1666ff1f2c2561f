"""``bpfman dispatcher list|get``: what runs on each XDP and TC hook, slot by slot."""

from __future__ import annotations

import click

from ..core.fields import KEY, NETNS
from ..dispatcher.views import TYPES, DispatcherView, dispatcher_views
from ..errors import InvalidInputError, NotFoundError
from .app import App
from .options import BpfmanGroup, HelpArgument, output_option
from .output import Value, block, table

MODES = {"freplace": "dispatcher (freplace)", "direct": "direct (one per hook)"}
TYPE_HELP = "the dispatcher's type: xdp, or tc per direction (tc-ingress, tc-egress)"


@click.group(cls=BpfmanGroup)
def dispatcher() -> None:
    """Show the XDP and TC dispatchers: their revision, mode and slots.

    bpfman runs several programs on one XDP hook, or one TC hook and direction,
    through a dispatcher whose slots call them in priority order. Where the kernel
    refuses freplace, a hook runs one program directly: its mode is "direct".
    """


@dispatcher.command("list")
@click.option("--type", "type_", type=click.Choice(TYPES), help=f"Optional: Only {TYPE_HELP}.")
@output_option
def list_(type_: str | None, output: str) -> None:
    """List the dispatchers on every interface."""
    app = _app()
    app.output = output
    views = [v for v in _views(app) if type_ is None or v.type == type_]
    app.emit(_table(views), [v.to_json() for v in views])


@dispatcher.command("get")
@click.argument(
    "type_", cls=HelpArgument, type=click.Choice(TYPES), help=f"Required: {TYPE_HELP.capitalize()}."
)
@click.argument("iface", cls=HelpArgument, help="Required: Interface name or index.")
@click.option("-n", "--netns", help=NETNS[KEY].help)
@output_option
def get(type_: str, iface: str, netns: str | None, output: str) -> None:
    """Get one interface's dispatcher and the programs in its slots."""
    app = _app()
    app.output = output
    found = [v for v in _views(app) if v.type == type_ and iface in (v.iface, str(v.ifindex))]
    if netns is not None:
        from ..kernel.namespaces import NetnsRef

        inode = NetnsRef.of(netns).inode
        found = [v for v in found if v.nsid == inode]
    if not found:
        raise NotFoundError(f"no {type_} dispatcher on {iface}" + (f" in {netns}" if netns else ""))
    if len(found) > 1:
        where = ", ".join(v.netns for v in found)
        raise InvalidInputError(
            f"{iface} has a {type_} dispatcher in several network namespaces ({where}): "
            "name one with -n"
        )
    app.emit(_text(found[0]), found[0].to_json())


def _app() -> App:
    app = click.get_current_context().find_object(App)
    assert app is not None  # made by the root command
    return app


def _views(app: App) -> list[DispatcherView]:
    with app.bpfman.reading() as txn:
        return [] if txn is None else dispatcher_views(txn)


def _table(views: list[DispatcherView]) -> str:
    return table(
        ["Type", "Interface", "Network Namespace", "Mode", "Revision", "Program ID", "Slots",
         "Program IDs"],
        [
            [v.type, v.iface, v.netns, v.mode, str(v.revision), str(v.program_id or ""),
             f"{len(v.slots)}/{v.capacity}", ", ".join(str(m.program_id) for m in v.slots)]
            for v in views
        ],
    )  # fmt: skip


def _text(view: DispatcherView) -> str:
    rows: list[tuple[str, Value]] = [
        ("Type", view.type),
        ("Interface", f"{view.iface} (index {view.ifindex})"),
        ("Network Namespace", view.netns),
        ("Mode", MODES.get(view.mode, view.mode)),
    ]
    if view.xdp_mode:
        rows.append(("XDP Mode", view.xdp_mode))
    rows += [
        ("Revision", str(view.revision)),
        ("Program ID", str(view.program_id or "None")),
        ("Slots", f"{len(view.slots)}/{view.capacity}"),
    ]
    slots = table(
        ["Slot", "Program ID", "Link ID", "Priority", "Proceed On", "Function Name"],
        [
            [str(m.slot), str(m.program_id), str(m.link_id), str(m.priority or ""),
             ", ".join(m.proceed_on), m.function]
            for m in view.slots
        ],
    )  # fmt: skip
    return f"{block('Dispatcher', 15, rows)}\n\n{slots}"
