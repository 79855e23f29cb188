# libgreen-gdb.py - gdb support for libgreen tasks (green threads).
#
# Commands:
#   info green-tasks       every allocated task: id, name, state, entry
#   green-bt ID [BT-ARGS]  backtrace of a parked or runnable task
#   green-task ID | off    show a task's frames in the selected thread until
#                          "green-task off" or the program resumes
#
# Installed as $(datadir)/gdb/auto-load$(libdir)/libgreen.so.X.Y.Z-gdb.py, gdb
# loads it with the shared library; with a static libgreen, "source" it.
# It needs libgreen's debug info (the runtime is found through the hidden
# symbol green__rt and the types of lib/green-internal.h).
#
# A task that is not running keeps its registers on its own stack
# (lib/arch/x86_64/switch.S): ctx.sp points at r15 r14 r13 r12 rbx rbp and
# the return address.  green-bt does not write registers (a core dump's are
# read-only): a Python frame unwinder claims frame #0 of the selected thread
# and says that the frame calling it is the task's, so gdb's own unwinder
# walks the task's stack from there.  Frame #0 stays the thread's real one
# and green-bt leaves it out.

import re
import time

import gdb
import gdb.unwinder

GREEN_TASK_MAGIC = 0x6772656E
GREEN_WAKE_WOKEN = 4
_GREEN_SIZE_MAX = (1 << 64) - 1

# lib/diag.c's wording, by enum green_wait enumerator (their values come
# from the debug info).
_GREEN_REASONS = {
    "GREEN_WAIT_JOIN": "join",
    "GREEN_WAIT_SLEEP": "sleep",
    "GREEN_WAIT_CHAN_SEND": "chan send",
    "GREEN_WAIT_CHAN_RECV": "chan recv",
    "GREEN_WAIT_SELECT": "select",
    "GREEN_WAIT_MUTEX": "mutex",
    "GREEN_WAIT_COND": "cond",
    "GREEN_WAIT_WG": "wait group",
    "GREEN_WAIT_SEM": "semaphore",
    "GREEN_WAIT_IO_READ": "fd read",
    "GREEN_WAIT_IO_WRITE": "fd write",
    "GREEN_WAIT_OFFLOAD": "offload",
    "GREEN_WAIT_GROUP": "group wait",
    "GREEN_WAIT_GROUP_SLOT": "group slot",
}

# lib/arch/x86_64/switch.S: the order of the saved slots from ctx.sp up.
_GREEN_X86_64_SLOTS = ("r15", "r14", "r13", "r12", "rbx", "rbp", "rip")


class _GreenError(gdb.GdbError):
    pass


def _green_error(msg):
    raise _GreenError("libgreen: " + msg)


# --- finding the runtime -----------------------------------------------------


def _green_runtime():
    """green__rt as a gdb.Value (a struct green_rt *); errors if absent."""
    sym = None
    for lookup in (gdb.lookup_global_symbol, gdb.lookup_static_symbol):
        try:
            sym = lookup("green__rt")
        except (gdb.error, RuntimeError):
            sym = None
        if sym is not None and sym.is_variable:
            break
        sym = None
    try:
        if sym is not None:
            rt = sym.value()
        else:
            rt = gdb.parse_and_eval("green__rt")
    except gdb.error as e:
        if "unknown type" in str(e):
            _green_error("green__rt has no debug info: build libgreen with "
                         "-g (or install its debug symbols)")
        _green_error("green__rt not found: is libgreen loaded, with debug "
                     "info? (%s)" % e)
    if rt.type.strip_typedefs().code != gdb.TYPE_CODE_PTR:
        _green_error("green__rt has an unexpected type: %s" % rt.type)
    return rt


class _GreenLayout:
    """Offsets and sizes of the struct fields the commands read."""

    def __init__(self, rt):
        rt_type = rt.type.strip_typedefs().target().strip_typedefs()
        self.ptr_size = rt.type.strip_typedefs().sizeof
        task_ptr = None
        for f in rt_type.fields():
            if f.name == "workers":
                wtype = f.type.strip_typedefs().target().strip_typedefs()
                for g in wtype.fields():
                    if g.name == "current":
                        task_ptr = g.type.strip_typedefs()
        if task_ptr is None:
            task_ptr = gdb.lookup_type("struct green_task").pointer()
        self.task_ptr = task_ptr
        self.task = task_ptr.target().strip_typedefs()
        self.task_size = self.task.sizeof
        self.fields = {}
        for f in self.task.fields():
            self.fields[f.name] = (f.bitpos // 8,
                                   f.type.strip_typedefs().sizeof)
        # enum green_wait: value -> enumerator name
        self.waits = {}
        for f in self.task.fields():
            if f.name == "wait_reason":
                etype = f.type.strip_typedefs()
                if etype.code == gdb.TYPE_CODE_ENUM:
                    for e in etype.fields():
                        self.waits[e.enumval] = e.name
        # ctx is struct green_ctx { void *sp; ... }
        ctx_off = self.fields["ctx"][0]
        sp_off = 0
        for f in self.task.fields():
            if f.name == "ctx":
                for g in f.type.strip_typedefs().fields():
                    if g.name == "sp":
                        sp_off = g.bitpos // 8
        self.fields["ctx.sp"] = (ctx_off + sp_off, self.ptr_size)
        for need in ("ctx", "wake", "fn", "id", "magic", "done", "name",
                     "wait_reason", "wait_obj", "deadline", "heap_index"):
            if need not in self.fields:
                _green_error("struct green_task has no field %r: this "
                             "script does not match the library" % need)
        # struct green_task_chunk lives in task.c; rt->chunks may point to an
        # incomplete type in the unit that defines green__rt.
        chunk = None
        for f in rt_type.fields():
            if f.name == "chunks":
                chunk = f.type.strip_typedefs().target().strip_typedefs()
        if chunk is None or not chunk.fields():
            chunk = gdb.lookup_type(
                "struct green_task_chunk").strip_typedefs()
        self.chunk = {}
        for f in chunk.fields():
            self.chunk[f.name] = (f.bitpos // 8,
                                  f.type.strip_typedefs().sizeof)
        for need in ("next", "ntasks", "tasks"):
            if need not in self.chunk:
                _green_error("struct green_task_chunk has no field %r" % need)
        endian = gdb.execute("show endian", to_string=True)
        self.order = "big" if "big endian" in endian else "little"

    def get(self, buf, base, name, signed=False):
        off, size = self.fields[name]
        return int.from_bytes(buf[base + off:base + off + size], self.order,
                              signed=signed)

    def name(self, buf, base):
        off, size = self.fields["name"]
        raw = bytes(buf[base + off:base + off + size]).split(b"\0", 1)[0]
        return raw.decode("utf-8", "replace")


class _GreenTaskInfo:
    """One allocated task, decoded from the inferior's memory."""

    def __init__(self, layout, addr, buf, base):
        g = layout.get
        self.addr = addr
        self.sp = g(buf, base, "ctx.sp")
        self.wake = g(buf, base, "wake")
        self.fn = g(buf, base, "fn")
        self.id = g(buf, base, "id")
        self.done = g(buf, base, "done") != 0
        self.reason = g(buf, base, "wait_reason", signed=True)
        # enumerator name (GREEN_WAIT_NONE when not waiting)
        self.wait = layout.waits.get(self.reason,
                                     "GREEN_WAIT_NONE" if self.reason == 0
                                     else "reason %d" % self.reason)
        self.wait_obj = g(buf, base, "wait_obj")
        self.deadline = g(buf, base, "deadline", signed=True)
        self.heap_index = g(buf, base, "heap_index")
        self.name = layout.name(buf, base)
        self.worker = None  # index of the worker running it
        self.thread = None  # gdb thread number of that worker


class _GreenSnapshot:
    """The runtime's workers and its allocated tasks."""

    def __init__(self):
        self.rt = _green_runtime()
        if int(self.rt) == 0:
            _green_error("the runtime is not started (green__rt is NULL)")
        self.layout = _GreenLayout(self.rt)
        self.inferior = gdb.selected_inferior()
        self.tasks = []
        self.by_addr = {}
        self.errors = []
        self._symbols = {}
        self._read_workers()
        self._read_tasks()

    def _read_workers(self):
        rt = self.rt.dereference()
        self.nworkers = int(rt["nworkers"])
        threads = _green_thread_by_pthread(self.layout.order)
        self.running = {}  # task address -> (worker index, thread number)
        workers = rt["workers"]
        for i in range(min(self.nworkers, 1024)):
            try:
                w = (workers + i).dereference()
                cur = int(w["current"])
                pt = int(w["thread"])
            except gdb.MemoryError as e:
                self.errors.append("worker %d: %s" % (i, e))
                continue
            if cur != 0:
                self.running[cur] = (i, threads.get(pt))

    def _read_tasks(self):
        L = self.layout
        coff = L.chunk
        addr = int(self.rt.dereference()["chunks"])
        seen = set()
        while addr != 0 and addr not in seen:
            seen.add(addr)
            try:
                head = self.inferior.read_memory(addr, coff["tasks"][0])
                nxt = int.from_bytes(head[coff["next"][0]:coff["next"][0] +
                                          coff["next"][1]], L.order)
                n = int.from_bytes(head[coff["ntasks"][0]:coff["ntasks"][0] +
                                        coff["ntasks"][1]], L.order)
                first = addr + coff["tasks"][0]
                if n > (1 << 24):
                    raise gdb.MemoryError("implausible ntasks %d" % n)
                buf = self.inferior.read_memory(first, n * L.task_size)
            except gdb.MemoryError as e:
                self.errors.append("task chunk at 0x%x: %s" % (addr, e))
                break
            moff, msize = L.fields["magic"]
            for i in range(n):
                base = i * L.task_size
                magic = int.from_bytes(buf[base + moff:base + moff + msize],
                                       L.order)
                if magic != GREEN_TASK_MAGIC:
                    continue
                t = _GreenTaskInfo(L, first + base, buf, base)
                if t.addr in self.running:
                    t.worker, t.thread = self.running[t.addr]
                self.tasks.append(t)
                self.by_addr[t.addr] = t
            addr = nxt
        self.tasks.sort(key=lambda t: t.id)

    def find(self, spec):
        """The task with id spec (an int) or the one named spec."""
        try:
            tid = int(spec, 0)
        except ValueError:
            tid = None
        if tid is not None:
            for t in self.tasks:
                if t.id == tid:
                    return t
            _green_error("no task with id %d (see \"info green-tasks\")"
                         % tid)
        named = [t for t in self.tasks if t.name == spec]
        if len(named) == 1:
            return named[0]
        if not named:
            _green_error("no task with id or name %r" % spec)
        _green_error("%d tasks are named %r: give an id (%s)" %
                     (len(named), spec, ", ".join(str(t.id) for t in named)))

    # --- describing a task ---------------------------------------------------

    def state(self, t):
        """(short state word, full description)."""
        if t.done:
            return "ended", "ended (not joined)"
        if t.worker is not None:
            where = "running on worker %d" % t.worker
            if t.thread is not None:
                where += " (thread %d)" % t.thread
            return "running", where
        if t.sp == 0:
            return "not started", "not started"
        if t.wait != "GREEN_WAIT_NONE":
            reason = _GREEN_REASONS.get(
                t.wait, t.wait.replace("GREEN_WAIT_", "").lower())
            if t.wake & GREEN_WAKE_WOKEN:
                return "runnable", "runnable (woken from %s)" % reason
            return "parked", "parked: " + self._park_detail(t, reason)
        return "runnable", "runnable"

    def _park_detail(self, t, reason):
        timed = t.heap_index != _GREEN_SIZE_MAX
        until = _green_describe_deadline(t.deadline)
        if t.wait == "GREEN_WAIT_SLEEP":
            return "sleep (%s)" % until if timed else "sleep forever"
        detail = []
        obj = t.wait_obj
        if t.wait == "GREEN_WAIT_JOIN" and obj:  # wait_obj is the task
            o = self.by_addr.get(obj)
            if o is not None:
                detail.append("task %d%s" % (o.id, ' "%s"' % o.name
                                            if o.name else ""))
            else:
                detail.append("task at 0x%x" % obj)
        elif t.wait in ("GREEN_WAIT_CHAN_SEND", "GREEN_WAIT_CHAN_RECV") \
                and obj:
            detail.append(_green_describe_chan(obj))
        elif t.wait == "GREEN_WAIT_SELECT" and obj:  # the case array
            detail.append("cases at 0x%x" % obj)
        elif obj:  # mutex, cond, wait group, semaphore
            detail.append(self.describe_object(obj))
        if timed:
            detail.append(until)
        return reason + (" (%s)" % ", ".join(detail) if detail else "")

    def describe_object(self, addr):
        """0xADDR <symbol>, for a sync object that is a variable."""
        if addr not in self._symbols:
            self._symbols[addr] = _green_symbol_at(addr)
        sym = self._symbols[addr]
        return "0x%x%s" % (addr, " <%s>" % sym if sym else "")


def _green_thread_by_pthread(order):
    """pthread_t value -> gdb thread number, where libthread_db tells."""
    out = {}
    try:
        threads = gdb.selected_inferior().threads()
    except gdb.error:
        return out
    for th in threads:
        try:
            h = th.handle()
        except (gdb.error, AttributeError, RuntimeError):
            continue
        if h:
            out[int.from_bytes(bytes(h), order)] = th.num
    return out


def _green_symbol_at(addr):
    """'name' or 'name+off' for a data or code address, or None."""
    try:
        out = gdb.execute("info symbol 0x%x" % addr, to_string=True).strip()
    except gdb.error:
        return None
    if not out or out.startswith("No symbol"):
        return None
    m = re.match(r"(\S+)(?: \+ (\d+))? in ", out)
    if not m:
        return None
    return m.group(1) + ("+" + m.group(2) if m.group(2) else "")


def _green_is_live():
    """True for a native live process (its clock is ours), not a core."""
    inf = gdb.selected_inferior()
    conn = getattr(inf, "connection", None)
    return inf.pid != 0 and conn is not None and conn.type == "native"


def _green_describe_deadline(deadline):
    """A CLOCK_MONOTONIC deadline in ns (green_now's clock)."""
    text = "deadline %.3fs" % (deadline / 1e9)
    if _green_is_live() and hasattr(time, "clock_gettime_ns"):
        left = (deadline - time.clock_gettime_ns(time.CLOCK_MONOTONIC)) / 1e9
        text += " (%s)" % ("in %.3fs" % left if left >= 0 else "passed")
    return text


def _green_describe_chan(addr):
    """The channel as its handle (green_chan_t *) reads in the program."""
    text = "chan 0x%x" % addr
    try:
        ch = gdb.Value(addr).cast(
            gdb.lookup_type("struct green_chan").pointer()).dereference()
        # a handle is the address with the generation in bits 48-63
        text = "chan 0x%x" % (addr | int(ch["gen"]) << 48)
        cap, ln = int(ch["cap"]), int(ch["len"])
        text += ", cap %d, len %d" % (cap, ln)
        if bool(ch["closed"]):
            text += ", closed"
    except (gdb.error, gdb.MemoryError, RuntimeError):
        pass
    return text


def _green_function_name(pc):
    if pc == 0:
        return "-"
    try:
        block = gdb.block_for_pc(pc)
    except (gdb.error, RuntimeError):
        block = None
    while block is not None and block.function is None:
        block = block.superblock
    if block is not None and block.function is not None:
        return block.function.print_name
    sym = _green_symbol_at(pc)
    return sym if sym else "0x%x" % pc


# --- info green-tasks --------------------------------------------------------


class GreenInfoTasks(gdb.Command):
    """List libgreen's tasks: info green-tasks

One line per allocated task (live, or ended and not yet joined): its id,
name, state and entry function.  The state is one of
  running on worker N (thread T)  its frames are on thread T: "thread T", "bt"
  runnable                        queued for a worker (or woken, not resumed)
  parked: REASON (DETAIL)         blocked in libgreen: "green-bt ID" shows it
  not started                     queued, never ran: no stack yet
  ended (not joined)              returned; waits for green_join
A "*" marks the task running on the selected thread."""

    def __init__(self):
        super().__init__("info green-tasks", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        snap = _GreenSnapshot()
        th = gdb.selected_thread()
        rows = []
        counts = {}
        for t in snap.tasks:
            word, text = snap.state(t)
            counts[word] = counts.get(word, 0) + 1
            mark = "*" if (th is not None and t.thread == th.num) else " "
            rows.append((mark, str(t.id), '"%s"' % t.name, text,
                         _green_function_name(t.fn)))
        head = (" ", "Id", "Name", "State", "Entry")
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
        fmt = "%s %*s  %-*s  %-*s  %s"

        def line(r):
            return (fmt % (r[0], widths[1], r[1], widths[2], r[2], widths[3],
                           r[3], r[4])).rstrip()

        gdb.write(line(head) + "\n")
        for r in rows:
            gdb.write(line(r) + "\n")
        order = ("running", "runnable", "parked", "not started", "ended")
        summary = ", ".join("%d %s" % (counts[k], k) for k in order
                            if k in counts)
        n = len(snap.tasks)
        gdb.write("%d task%s%s on %d worker%s\n" %
                  (n, "" if n == 1 else "s",
                   " (%s)" % summary if summary else "", snap.nworkers,
                   "" if snap.nworkers == 1 else "s"))
        for e in snap.errors:
            gdb.write("warning: libgreen: could not read %s\n" % e)


# --- the task unwinder -------------------------------------------------------


class _GreenFrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class _GreenTarget:
    """A task whose frames the unwinder shows, on one gdb thread."""

    def __init__(self, task, thread, regs):
        self.task = task
        self.thread_num = thread.num  # as the user knows it
        self.thread_gnum = thread.global_num  # unique in all inferiors
        self.regs = regs  # register name -> int, for the caller of frame 0
        self.past_main = False  # "backtrace past-main" before green-task
        # The thread's own sp in frame #0, for a gdb without
        # PendingFrame.level() (before gdb 11).
        try:
            self.frame0_sp = int(gdb.newest_frame().read_register("rsp"))
        except gdb.error:
            self.frame0_sp = None


class GreenTaskUnwinder(gdb.unwinder.Unwinder):
    """Makes the caller of the selected thread's frame #0 a task's frame."""

    def __init__(self):
        super().__init__("libgreen-task")
        self.target = None

    def __call__(self, pending_frame):
        target = self.target
        if target is None:
            return None
        th = gdb.selected_thread()
        if th is None or th.global_num != target.thread_gnum:
            return None
        level = getattr(pending_frame, "level", None)
        if level is not None:
            if level() != 0:
                return None
        elif int(pending_frame.read_register("rsp")) != target.frame0_sp:
            return None
        pc = pending_frame.read_register("rip")
        sp_type = pending_frame.read_register("rsp").type
        # Frame #0's id gets the task's (lowest) saved sp, so that the task's
        # frames above it are "outer", as gdb's sanity check wants, whichever
        # stack lies higher in memory.
        info = pending_frame.create_unwind_info(
            _GreenFrameId(gdb.Value(target.task.sp).cast(sp_type), pc))
        for name, value in target.regs.items():
            rtype = pending_frame.read_register(name).type
            info.add_saved_register(name, gdb.Value(value).cast(rtype))
        return info


_green_unwinder = GreenTaskUnwinder()
gdb.unwinder.register_unwinder(None, _green_unwinder, replace=True)
_green_persistent = None  # the _GreenTarget of "green-task ID", if any


def _green_check_arch():
    try:
        arch = gdb.selected_frame().architecture().name()
    except gdb.error:
        _green_error("no frame: start the program, attach to it or load "
                     "a core")
    if "x86-64" not in arch:
        _green_error("task backtraces are implemented for x86-64 only, "
                     "not %s" % arch)


def _green_saved_registers(snap, t):
    L = snap.layout
    n = len(_GREEN_X86_64_SLOTS)
    try:
        raw = snap.inferior.read_memory(t.sp, n * 8)
    except gdb.MemoryError as e:
        _green_error("cannot read task %d's saved registers at 0x%x: %s"
                     % (t.id, t.sp, e))
    regs = {}
    for i, name in enumerate(_GREEN_X86_64_SLOTS):
        regs[name] = int.from_bytes(raw[8 * i:8 * i + 8], L.order)
    regs["rsp"] = t.sp + 8 * n  # after the pops and the ret
    return regs


def _green_target_for(arg, command):
    argv = gdb.string_to_argv(arg)
    if not argv:
        _green_error("usage: %s ID" % command)
    _green_check_arch()
    th = gdb.selected_thread()
    if th is None:
        _green_error("no thread selected")
    snap = _GreenSnapshot()
    t = snap.find(argv[0])
    label = 'task %d "%s"' % (t.id, t.name)
    if t.done:
        _green_error("%s has ended: its stack is gone" % label)
    if t.worker is not None:
        if t.thread is not None:
            gdb.write("%s is running on worker %d, thread %d: its frames "
                      "are that thread's; see \"thread %d\" then "
                      "\"bt\" (or \"thread apply %d bt\").\n"
                      % (label, t.worker, t.thread, t.thread, t.thread))
        else:
            gdb.write("%s is running on worker %d: its frames are that "
                      "worker's thread's (green__rt->workers[%d].thread).\n"
                      % (label, t.worker, t.worker))
        return None, argv
    if t.sp == 0:
        _green_error("%s has not started yet: it has no stack" % label)
    return _GreenTarget(t, th, _green_saved_registers(snap, t)), argv


class _GreenShowing:
    """Context: the unwinder shows target; the frame cache is refreshed."""

    def __init__(self, target):
        self.target = target

    def __enter__(self):
        self.saved = _green_unwinder.target
        self.past_main = gdb.parameter("backtrace past-main")
        # Frame #0 may be main(); gdb would not unwind past it.
        gdb.execute("set backtrace past-main on", to_string=True)
        _green_unwinder.target = self.target
        gdb.invalidate_cached_frames()
        return self

    def __exit__(self, *exc):
        _green_unwinder.target = self.saved
        gdb.execute("set backtrace past-main %s"
                    % ("on" if self.past_main else "off"), to_string=True)
        gdb.invalidate_cached_frames()
        try:
            frame = gdb.newest_frame()
            if self.saved is not None and frame.older() is not None:
                frame = frame.older()
            frame.select()
        except gdb.error:
            pass
        return False


def _green_drop_frame0(text):
    """bt output without frame #0, renumbered from #0."""
    out = []
    skipping = False
    for ln in text.splitlines():
        m = re.match(r"#(\d+)(\s+)", ln)
        if m:
            level = int(m.group(1))
            skipping = level == 0
            if skipping:
                continue
            width = len(m.group(1)) + len(m.group(2))
            ln = "#" + ("%d" % (level - 1)).ljust(width) + ln[1 + width:]
        elif skipping:
            continue
        out.append(ln)
    return "\n".join(out) + ("\n" if out else "")


class GreenBt(gdb.Command):
    """Backtrace of a libgreen task: green-bt ID [BACKTRACE-ARGS]

ID is a task id from "info green-tasks" (or a task's unique name).  The task
must be parked or runnable (started and not running): its frames are found
from the registers it saved when it switched away, in a live process or in
a core dump.  BACKTRACE-ARGS go to "backtrace" (e.g. "full", "-full", a
frame count).  A running task's frames are those of its worker's thread: the
command names that thread."""

    def __init__(self):
        super().__init__("green-bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        target, argv = _green_target_for(arg, "green-bt")
        if target is None:
            return
        t = target.task
        gdb.write('task %d "%s" (%s):\n'
                  % (t.id, t.name, "parked" if t.wait != "GREEN_WAIT_NONE"
                     and not t.wake & GREEN_WAKE_WOKEN else "runnable"))
        bt_args = argv[1:]
        # A frame count counts our hidden frame #0 too.
        if bt_args and re.fullmatch(r"\d+", bt_args[-1]):
            bt_args[-1] = str(int(bt_args[-1]) + 1)
        bt_args = " ".join(bt_args)
        with _GreenShowing(target):
            text = gdb.execute("backtrace " + bt_args, to_string=True)
        gdb.write(_green_drop_frame0(text))


class GreenTask(gdb.Command):
    """Show a libgreen task's frames in place of the selected thread's:
green-task ID | green-task off

While it is on, the caller of the selected thread's frame #0 is the task's
innermost frame (#1): "bt", "frame N", "up", "info locals" work on the
task's frames (frame #0 stays the thread's own).  "green-task off", or
resuming the program, ends it.  Works on live processes and core dumps."""

    def __init__(self):
        super().__init__("green-task", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        global _green_persistent
        if arg.strip() in ("off", ""):
            if arg.strip() == "" and _green_persistent is not None:
                t = _green_persistent.task
                gdb.write('showing task %d "%s" in thread %d\n'
                          % (t.id, t.name, _green_persistent.thread_num))
                return
            if arg.strip() == "":
                _green_error("usage: green-task ID | green-task off")
            _green_clear_persistent()
            return
        target, argv = _green_target_for(arg, "green-task")
        if target is None:
            return
        if _green_persistent is None:
            target.past_main = gdb.parameter("backtrace past-main")
        else:
            target.past_main = _green_persistent.past_main
        _green_persistent = target
        _green_unwinder.target = target
        gdb.execute("set backtrace past-main on", to_string=True)
        gdb.invalidate_cached_frames()
        t = target.task
        gdb.write('task %d "%s": its frames start at #1 (#0 is thread %d\'s '
                  'own); "green-task off" ends this.\n'
                  % (t.id, t.name, target.thread_num))
        gdb.execute("frame 1", from_tty)


def _green_clear_persistent(*_):
    global _green_persistent
    if _green_persistent is None:
        return
    past_main = _green_persistent.past_main
    _green_persistent = None
    _green_unwinder.target = None
    try:
        gdb.execute("set backtrace past-main %s"
                    % ("on" if past_main else "off"), to_string=True)
    except gdb.error:
        pass
    gdb.invalidate_cached_frames()


GreenInfoTasks()
GreenBt()
GreenTask()

# A resumed or gone program invalidates any saved registers we show.
if not getattr(gdb, "_libgreen_events", False):
    gdb.events.cont.connect(lambda ev: _green_clear_persistent())
    gdb.events.exited.connect(lambda ev: _green_clear_persistent())
    gdb._libgreen_events = True
