"""The lab host's stand-in daemon: runs read-only stand-in calls in one warm Python interpreter.

Started by test/lab/host-init.py in every lab host (its own mount, PID and network namespaces), listening
on /run/lab/standins.sock (root only). The launcher (test/lab/fakekernel/standin-client.c, installed as
every stand-in in /usr/local/bin and /usr/local/sbin) sends a call's argv, cwd, umask, environment and
its stdin/stdout/stderr. A call IN_PROCESS accepts runs here: the stand-in's own script
(/usr/local/lib/lab/py/{bin,sbin}/NAME, unchanged) is executed as __main__ with the caller's fds on
0/1/2, its argv, environment, cwd and umask, and fresh copies of the lab modules (fakelab, fakepkg,
units: no state carried over from an earlier call). Its exit status goes back to the launcher. Every
other call (anything that starts, stops, installs or loads) is answered "run it yourself": the launcher
execs the Python stand-in as before. A stand-in that hands over to the real tool (os.execv) is answered
with that program and argv; the launcher execs it.

One call at a time: a call is a few milliseconds, and a host's calls come from one probe or one task.
"""
import builtins
import io
import os
import signal
import socket
import struct
import sys
import traceback

SOCK = "/run/lab/standins.sock"
# test hook (hostbin.test.ts): every call's disposition, one line each: "in-process|exec NAME ARGS..."
TRACE = os.environ.get("LAB_STANDINS_LOG")
TIMEOUT_S = 60


def _verb(argv, value_opts):
    """The first operand, skipping options and the values of value_opts."""
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a in value_opts:
            skip = True
        elif not a.startswith("-"):
            return a
    return None


SYSTEMCTL_READ = {"is-active", "is-failed", "is-enabled", "status", "show", "list-units", "list-unit-files",
                  None}

# stand-in name -> predicate over its arguments: True = run in the daemon. Only calls that read (they may
# append to calls.log); anything with side effects on the host runs as its own process, as before.
IN_PROCESS = {
    "uname": lambda a: True,
    "modinfo": lambda a: True,
    "ethtool": lambda a: True,
    "lsmod": lambda a: True,
    "dpkg-query": lambda a: True,
    "dpkg": lambda a: True,
    "rpm": lambda a: True,
    "journalctl": lambda a: "-f" not in a and "--follow" not in a,
    "systemctl": lambda a: a[:1] != ["__supervise"] and _verb(a, ("-p", "--property")) in SYSTEMCTL_READ,
}


class Handover(Exception):
    """os.execv* in a stand-in: the launcher execs this program."""

    def __init__(self, path, argv):
        super().__init__(path)
        self.path = path
        self.argv = [os.fsdecode(x) for x in argv]


def _execv(path, argv):
    raise Handover(os.fsdecode(path), argv)


def _execve(path, argv, env):
    raise Handover(os.fsdecode(path), argv)


def _execvp(file, argv):
    file = os.fsdecode(file)
    if "/" not in file:
        for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
            p = os.path.join(d, file)
            if os.access(p, os.X_OK):
                file = p
                break
    raise Handover(file, argv)


_code_cache = {}


def _code(script):
    st = os.stat(script)
    key = (script, st.st_mtime_ns, st.st_size)
    code = _code_cache.get(key)
    if code is None:
        with open(script, "rb") as f:
            code = compile(f.read(), script, "exec")
        _code_cache[key] = code
    return code


def _lab_modules():
    """The lab's own modules (fakelab, fakepkg, units ...: any .../lib/lab copy), re-imported by every call."""
    return [n for n, m in list(sys.modules.items())
            if n != "__main__" and getattr(m, "__file__", None)
            and os.path.dirname(os.path.realpath(m.__file__)).endswith(os.sep + os.path.join("lib", "lab"))]


def _recv_call(conn):
    msg, anc, _, _ = conn.recvmsg(4, socket.CMSG_SPACE(3 * 4))
    fds = []
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += list(struct.unpack("%di" % (len(data) // 4), data[:len(data) - len(data) % 4]))
    if len(msg) != 4:
        raise ValueError("short header")
    (total,) = struct.unpack("=I", msg)
    data = b""
    while len(data) < total:
        chunk = conn.recv(total - len(data))
        if not chunk:
            raise ValueError("short call")
        data += chunk
    parts = data.split(b"\0")[:-1]
    name, script, cwd, umask, argc = parts[:5]
    argc = int(argc)
    args = [os.fsdecode(x) for x in parts[5:5 + argc]]
    env = {}
    for e in parts[5 + argc:]:
        k, sep, v = e.partition(b"=")
        if sep:
            env[os.fsdecode(k)] = os.fsdecode(v)
    return fds, os.fsdecode(name), os.fsdecode(script), os.fsdecode(cwd), int(umask, 8), args, env


def _exit_code(e):
    c = e.code
    if c is None:
        return 0
    if isinstance(c, int):
        return c & 0xFF
    try:
        sys.stderr.write(str(c) + "\n")
    except (OSError, ValueError):
        pass
    return 1


class _Timeout(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Timeout()


def run(fds, script, cwd, umask, args, env):
    """Runs script as __main__ with the caller's fds/argv/env/cwd/umask. Returns ('X', code) or ('R', argv)."""
    saved_env = dict(os.environ)
    saved_path = list(sys.path)
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_exec = (os.execv, os.execve, os.execvp)
    for i, fd in enumerate(fds[:3]):
        os.dup2(fd, i)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8",
                                 errors="surrogateescape")
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8",
                                  errors="surrogateescape", line_buffering=os.isatty(1))
    sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)
    for n in _lab_modules():
        del sys.modules[n]
    result = ("X", 0)
    old_umask = os.umask(umask)
    try:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = [script] + args
        sys.path[:] = [os.path.dirname(script)] + saved_path[1:]
        os.execv, os.execve, os.execvp = _execv, _execve, _execvp
        signal.alarm(TIMEOUT_S)
        try:
            exec(_code(script), {"__name__": "__main__", "__file__": script, "__builtins__": builtins})
        finally:
            signal.alarm(0)
    except SystemExit as e:
        result = ("X", _exit_code(e))
    except Handover as h:
        result = ("R", [h.path] + h.argv)
    except _Timeout:
        sys.stderr.write("lab stand-in daemon: %s timed out after %d s\n" % (script, TIMEOUT_S))
        result = ("X", 124)
    except BaseException:
        try:
            traceback.print_exc()
        except (OSError, ValueError):
            pass
        result = ("X", 1)
    finally:
        os.execv, os.execve, os.execvp = saved_exec
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except (OSError, ValueError):
                pass
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        null = os.open(os.devnull, os.O_RDWR)
        for i in range(3):
            os.dup2(null, i)
        os.close(null)
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path
        os.umask(old_umask)
        os.chdir("/")
    return result


def _trace(what, name, args):
    if TRACE:
        with open(TRACE, "a") as f:
            f.write(" ".join([what, name] + args) + "\n")


def serve(sock_path=SOCK):
    os.makedirs(os.path.dirname(sock_path), mode=0o700, exist_ok=True)
    try:
        os.unlink(sock_path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    srv.bind(sock_path)
    os.umask(old)
    srv.listen(64)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a caller that went away must not end the daemon
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    while True:
        conn, _ = srv.accept()
        fds = []
        try:
            fds, name, script, cwd, umask, args, env = _recv_call(conn)
            uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
            pred = IN_PROCESS.get(name)
            served = uid == 0 and len(fds) == 3 and pred is not None and pred(args) and os.path.isfile(script)
            _trace("in-process" if served else "exec", name, args)
            if not served:
                conn.sendall(b"E")
                continue
            kind, value = run(fds, script, cwd, umask, args, env)
            if kind == "X":
                conn.sendall(b"X" + struct.pack("=i", value))
            else:
                conn.sendall(b"R" + b"".join(os.fsencode(x) + b"\0" for x in value))
        except Exception:  # a broken call: the launcher runs the stand-in itself
            try:
                conn.sendall(b"E")
            except OSError:
                pass
        finally:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
            conn.close()


if __name__ == "__main__":
    null = os.open(os.devnull, os.O_RDWR)
    for i in range(3):
        os.dup2(null, i)
    serve(sys.argv[1] if len(sys.argv) > 1 else SOCK)
