"""A BPF ELF object: open, choose programs, set globals, load.

Wraps libbpf's ``struct bpf_object``. Closing it closes libbpf's fds; the
kernel objects live on only through pins or fds taken elsewhere.
"""

import errno
import mmap
import os
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from bpfman.errors import InvalidInputError, KernelError, NotFoundError
from bpfman.kernel.errcheck import check, detail, last_errno
from bpfman.kernel.fds import Closing
from bpfman.kernel.lib import binding, capture_libbpf_messages
from bpfman.kernel.names import map_type_name
from bpfman.kernel.statics import globalize_static_programs

# Room for the verifier log of one failed program; the kernel truncates
# (ENOSPC) beyond it, and we only show the tail anyway.
VERIFIER_LOG_SIZE = 256 * 1024

_BTF_KIND_VAR = 14
_BTF_KIND_DATASEC = 15
_GLOBAL_SECTIONS = (".rodata", ".data", ".bss")
# A pattern, compiled on the first failed load (re caches it), not by every load.
_FAILED_PROG = r"prog '([^']+)': failed to load"


class ProgramSpec(NamedTuple):
    """A program in the object: C function name, ELF section, and the kernel
    program type libbpf infers from the section (0, unspec, when it implies none)."""

    name: str
    section: str
    kernel_type: int = 0


class MapSpec(NamedTuple):
    """A map in the object; ``internal`` for .rodata/.data/.bss/.kconfig."""

    name: str
    type_name: str
    internal: bool


class _Global(NamedTuple):
    map: Any  # struct bpf_map *
    offset: int
    size: int


def _is_global_section(name: str) -> bool:
    return name in _GLOBAL_SECTIONS or name.startswith((".rodata.", ".data."))


class BpfObject(Closing):
    """An opened BPF ELF object (``struct bpf_object *``)."""

    def __init__(self, ptr: Any, source: str, keepalive: tuple[Any, ...] = ()) -> None:
        b = binding()
        self._ptr = ptr
        self._source = source
        self._keepalive = keepalive
        self._loaded = False
        self._programs: dict[str, Any] = {}
        prog = b.bpf.bpf_object__next_program(ptr, b.ffi.NULL)
        while prog != b.ffi.NULL:
            self._programs[_string(b.bpf.bpf_program__name(prog))] = prog
            prog = b.bpf.bpf_object__next_program(ptr, prog)
        self._maps: dict[str, Any] = {}
        m = b.bpf.bpf_object__next_map(ptr, b.ffi.NULL)
        while m != b.ffi.NULL:
            self._maps[_string(b.bpf.bpf_map__name(m))] = m
            # bpfman pins maps itself, under its own root. A map declared
            # LIBBPF_PIN_BY_NAME would have libbpf pin it in the host's
            # /sys/fs/bpf (or fail where no bpffs is mounted there). Clearing
            # a path cannot fail.
            b.bpf.bpf_map__set_pin_path(m, b.ffi.NULL)
            m = b.bpf.bpf_object__next_map(ptr, m)
        self._globals: dict[str, _Global] | None = None

    # -- opening and closing -------------------------------------------------

    @classmethod
    def open_file(cls, path: str | os.PathLike[str]) -> "BpfObject":
        """Parse the ELF file at ``path`` (nothing reaches the kernel yet)."""
        source = os.fspath(path)
        if not os.path.isfile(source):
            raise NotFoundError(f"no such BPF object file: {source}")
        try:
            patched = _globalized_file(source)
        except OSError as e:
            raise InvalidInputError(f"cannot read BPF object file {source}: {e.strerror}") from None
        if patched is not None:
            # libbpf names an object after its file up to the first dot (its
            # internal maps carry that prefix); a buffer keeps the same name.
            return cls._open_mem(patched, os.path.basename(source).split(".")[0], source)
        b = binding()
        with capture_libbpf_messages() as messages:
            ptr = b.bpf.bpf_object__open_file(os.fsencode(source), b.ffi.NULL)
        if ptr == b.ffi.NULL:
            raise _open_error(source, last_errno(), messages)
        return cls(ptr, source)

    @classmethod
    def open_bytes(cls, data: bytes, name: str) -> "BpfObject":
        """Parse an ELF image held in memory (e.g. pulled from an image)."""
        return cls._open_mem(globalize_static_programs(data) or data, name, name)

    @classmethod
    def _open_mem(cls, data: bytes, object_name: str, source: str) -> "BpfObject":
        """Open ``data`` as libbpf object ``object_name``; errors name ``source``."""
        b = binding()
        opts = b.ffi.new("struct bpf_object_open_opts *")
        opts.sz = b.ffi.sizeof("struct bpf_object_open_opts")
        c_name = b.ffi.new("char[]", object_name.encode())
        opts.object_name = c_name
        buf = b.ffi.from_buffer(data)
        with capture_libbpf_messages() as messages:
            ptr = b.bpf.bpf_object__open_mem(buf, len(data), opts)
        if ptr == b.ffi.NULL:
            raise _open_error(source, last_errno(), messages)
        # libbpf keeps pointing into the buffer until load.
        return cls(ptr, source, keepalive=(data, buf, c_name))

    def close(self) -> None:
        """Free libbpf's object and its fds; idempotent."""
        if self._ptr is not None:
            ptr, self._ptr = self._ptr, None
            binding().bpf.bpf_object__close(ptr)
            self._keepalive = ()

    # -- what is inside ------------------------------------------------------

    def programs(self) -> list[ProgramSpec]:
        """Every program, in ELF order."""
        self._live()
        bpf = binding().bpf
        return [
            ProgramSpec(name, _string(bpf.bpf_program__section_name(p)), bpf.bpf_program__type(p))
            for name, p in self._programs.items()
        ]

    def maps(self) -> list[MapSpec]:
        """Every map, including libbpf's internal global-data maps."""
        self._live()
        bpf = binding().bpf
        return [
            MapSpec(name, map_type_name(bpf.bpf_map__type(m)), bool(bpf.bpf_map__is_internal(m)))
            for name, m in self._maps.items()
        ]

    def global_sizes(self) -> dict[str, int]:
        """Each global variable of .rodata/.data/.bss (and .rodata.*/.data.*) and its size."""
        return {name: g.size for name, g in self._global_vars().items()}

    # -- preparing the load --------------------------------------------------

    def select(self, names: Iterable[str]) -> None:
        """Load only the programs named (C function names)."""
        self._live()
        wanted = set(names)
        unknown = sorted(wanted - self._programs.keys())
        if unknown:
            raise NotFoundError(
                f"function {', '.join(unknown)} not found in {self._source}; "
                f"it has: {', '.join(self._programs) or 'no programs'}"
            )
        bpf = binding().bpf
        for name, prog in self._programs.items():
            check(bpf.bpf_program__set_autoload(prog, name in wanted), f"select {name}")

    def set_type(self, prog: str, prog_type: int, expected_attach_type: int | None = None) -> None:
        """Override the program type libbpf guessed from the section name."""
        p = self._program(prog)
        bpf = binding().bpf
        check(bpf.bpf_program__set_type(p, prog_type), f"set type of {prog}")
        if expected_attach_type is not None:
            rc = bpf.bpf_program__set_expected_attach_type(p, expected_attach_type)
            check(rc, f"set attach type of {prog}")

    def set_attach_target(self, prog: str, func_name: str, attach_prog_fd: int = 0) -> None:
        """Point an fentry/fexit program at a kernel function, or an freplace
        program at function ``func_name`` of the loaded program ``attach_prog_fd``."""
        p = self._program(prog)
        with capture_libbpf_messages() as messages:
            rc = binding().bpf.bpf_program__set_attach_target(p, attach_prog_fd, func_name.encode())
        if rc == -errno.ESRCH:
            where = f"program fd {attach_prog_fd}" if attach_prog_fd else "the kernel's BTF"
            raise NotFoundError(f"function {func_name} not found in {where}")
        check(rc, f"set attach target {func_name} of {prog}", messages)

    def set_global(self, name: str, value: bytes) -> None:
        """Give a global variable its initial value before load."""
        if self._loaded:
            raise InvalidInputError(f"global {name} cannot be set after the program is loaded")
        globals_ = self._global_vars()
        var = globals_.get(name)
        if var is None:
            known = ", ".join(sorted(globals_)) or "none"
            raise InvalidInputError(
                f"no global variable {name} in {self._source}; globals: {known}"
            )
        if len(value) != var.size:
            raise InvalidInputError(f"global {name} is {var.size} bytes, got {len(value)}")
        b = binding()
        size = b.ffi.new("size_t *")
        data = b.bpf.bpf_map__initial_value(var.map, size)
        if data == b.ffi.NULL or var.offset + var.size > size[0]:
            raise InvalidInputError(f"global {name} has no initial value to set")
        b.ffi.memmove(b.ffi.cast("char *", data) + var.offset, value, var.size)

    def set_max_entries(self, map_name: str, entries: int) -> None:
        """Size a map before load (e.g. one slot per CPU and event)."""
        rc = binding().bpf.bpf_map__set_max_entries(self._map(map_name), entries)
        check(rc, f"size map {map_name}")

    def reuse_map(self, map_name: str, fd: int) -> None:
        """Use an existing kernel map instead of creating ``map_name``."""
        rc = binding().bpf.bpf_map__reuse_fd(self._map(map_name), fd)
        check(rc, f"reuse map {map_name}")

    # -- loading -------------------------------------------------------------

    def load(self) -> None:
        """Load the selected programs and create the maps in the kernel."""
        b = binding()
        logs: dict[str, Any] = {}
        for name, prog in self._programs.items():
            if b.bpf.bpf_program__autoload(prog):
                logs[name] = b.ffi.new("char[]", VERIFIER_LOG_SIZE)
                check(
                    b.bpf.bpf_program__set_log_buf(prog, logs[name], VERIFIER_LOG_SIZE),
                    f"set log buffer of {name}",
                )
        with capture_libbpf_messages() as messages:
            rc = b.bpf.bpf_object__load(self._live())
        for name in logs:
            b.bpf.bpf_program__set_log_buf(self._programs[name], b.ffi.NULL, 0)
        if rc < 0:
            logs_text = {n: b.ffi.string(buf).decode("utf-8", "replace") for n, buf in logs.items()}
            failed = _failed_program(messages, logs_text)
            what = f"load {failed}" if failed else f"load {self._source}"
            log = logs_text.get(failed or "", "")
            why = detail(messages)
            if -rc == errno.ENOSPC and len(log) >= VERIFIER_LOG_SIZE - 1:
                # The kernel reports a truncated log as ENOSPC, hiding the refusal.
                why = f"the verifier refused it; its log exceeded {VERIFIER_LOG_SIZE // 1024} KiB"
            raise KernelError(what, -rc, why, log)
        self._loaded = True

    def program_fd(self, prog: str) -> int:
        """The loaded program's fd, owned by this object."""
        fd = int(binding().bpf.bpf_program__fd(self._program(prog)))
        if fd < 0:
            raise NotFoundError(f"program {prog} is not loaded")
        return fd

    def map_fd(self, map_name: str) -> int:
        """The created map's fd, owned by this object."""
        fd = int(binding().bpf.bpf_map__fd(self._map(map_name)))
        if fd < 0:
            raise NotFoundError(f"map {map_name} is not created")
        return fd

    # -- helpers -------------------------------------------------------------

    def _live(self) -> Any:
        """The object pointer; using a closed object is a programming error."""
        if self._ptr is None:
            raise ValueError(f"BPF object {self._source} is closed")
        return self._ptr

    def _program(self, name: str) -> Any:
        return self._named(self._programs, name, "function", "programs")

    def _map(self, name: str) -> Any:
        return self._named(self._maps, name, "map", "maps")

    def _named(self, found: dict[str, Any], name: str, kind: str, kinds: str) -> Any:
        self._live()
        try:
            return found[name]
        except KeyError:
            raise NotFoundError(
                f"{kind} {name} not found in {self._source}; "
                f"it has: {', '.join(found) or f'no {kinds}'}"
            ) from None

    def _global_vars(self) -> dict[str, _Global]:
        """Globals found in the BTF data sections, keyed by variable name."""
        if self._globals is not None:
            return self._globals
        b = binding()
        found: dict[str, _Global] = {}
        btf = b.bpf.bpf_object__btf(self._live())
        if btf != b.ffi.NULL:
            by_section = {
                b.bpf.bpf_map__btf_value_type_id(m): m
                for m in self._maps.values()
                if b.bpf.bpf_map__is_internal(m)
            }
            for type_id in range(1, b.bpf.btf__type_cnt(btf)):
                t = b.bpf.btf__type_by_id(btf, type_id)
                if (t.info >> 24) & 0x1F != _BTF_KIND_DATASEC or type_id not in by_section:
                    continue
                if not _is_global_section(_string(b.bpf.btf__name_by_offset(btf, t.name_off))):
                    continue
                infos = b.ffi.cast("struct btf_var_secinfo *", t + 1)
                for i in range(t.info & 0xFFFF):
                    var = b.bpf.btf__type_by_id(btf, infos[i].type)
                    if (var.info >> 24) & 0x1F != _BTF_KIND_VAR:
                        continue
                    var_name = _string(b.bpf.btf__name_by_offset(btf, var.name_off))
                    found[var_name] = _Global(by_section[type_id], infos[i].offset, infos[i].size)
        self._globals = found
        return found


def _globalized_file(path: str) -> bytes | None:
    """The file's image with its static programs made global; None if it has none.

    The file is mapped, not read: only an image that changes is copied.
    """
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return None  # nothing to map; libbpf says what is wrong with it
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as image:
            return globalize_static_programs(image)


def _failed_program(messages: list[str], logs: dict[str, str]) -> str | None:
    """Which program failed to load: the one libbpf names, else one with a log."""
    for message in messages:
        match = re.search(_FAILED_PROG, message)
        if match and match.group(1) in logs:
            return match.group(1)
    return next((name for name, text in logs.items() if text), None)


def _string(ptr: Any) -> str:
    b = binding()
    return "" if ptr == b.ffi.NULL else b.ffi.string(ptr).decode("utf-8", "replace")


def _open_error(source: str, err: int, messages: list[str]) -> InvalidInputError:
    why = detail(messages) or os.strerror(err)
    code = errno.errorcode.get(err, str(err))
    return InvalidInputError(f"{source} is not a usable BPF object ({code}): {why}")
