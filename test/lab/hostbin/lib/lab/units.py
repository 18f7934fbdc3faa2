"""Unit files for the lab's systemctl stand-in: lookup, parsing (with drop-ins), command lines."""
import os
import re
import shlex

import fakelab as L

UNIT_DIRS = ["/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"]
LIST_KEYS = {"ExecStartPre", "ExecStart", "ExecStartPost", "ExecStop", "ExecStopPost", "ExecReload", "Environment",
             "EnvironmentFile", "After", "Before", "Requires", "Wants", "PartOf", "BindsTo", "WantedBy",
             "RequiredBy", "Alias"}


def full_name(name):
    return name if re.search(r"\.(service|target|socket|timer|mount|path)$", name) else name + ".service"


def template_of(name):
    m = re.match(r"^([^@]+)@([^.]*)\.(\w+)$", name)
    return ("%s@.%s" % (m.group(1), m.group(3)), m.group(2)) if m else (None, None)


def find(name):
    """Path of the unit file for name (or its template), or None."""
    tmpl, _ = template_of(name)
    for d in UNIT_DIRS:
        for candidate in (name, tmpl):
            if candidate and os.path.isfile(L.host_path(os.path.join(d, candidate))):
                return os.path.join(d, candidate)
    return None


def all_unit_names():
    names = set()
    for d in UNIT_DIRS:
        try:
            names.update(f for f in os.listdir(L.host_path(d)) if f.endswith((".service", ".target")) and "@." not in f)
        except FileNotFoundError:
            pass
    return sorted(names)


def parse_file(path, unit):
    """Merges one unit file into unit: {section: {key: value | [values]}}; an empty list value resets."""
    section = None
    with open(L.host_path(path)) as f:
        text = f.read().replace("\\\n", " ")
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        if section is None or "=" not in line:
            continue
        key, value = (x.strip() for x in line.split("=", 1))
        if key in LIST_KEYS:
            if value == "":
                section[key] = []
            else:
                section.setdefault(key, []).append(value)
        else:
            section[key] = value


def load(name):
    """The parsed unit (dict of sections) with drop-ins applied, or None when there is no unit file."""
    name = full_name(name)
    path = find(name)
    if path is None:
        return None
    unit = {"_path": path, "_name": name}
    parse_file(path, unit)
    tmpl, inst = template_of(name)
    for d in UNIT_DIRS:
        for n in filter(None, (name, tmpl)):
            dropin = L.host_path(os.path.join(d, n + ".d"))
            if os.path.isdir(dropin):
                for f in sorted(os.listdir(dropin)):
                    if f.endswith(".conf"):
                        parse_file(os.path.join(d, n + ".d", f), unit)
    unit["_instance"] = inst or ""
    return unit


def get(unit, section, key, default=None):
    return unit.get(section, {}).get(key, default)


def words(unit, section, key):
    """Space-separated list values (After=a b, Requires=c) flattened."""
    out = []
    for v in get(unit, section, key, []) or []:
        out += v.split()
    return out


def specifiers(unit, text):
    name = unit["_name"]
    prefix = name.split("@")[0].rsplit(".", 1)[0]
    return (text.replace("%%", "\0").replace("%i", unit["_instance"]).replace("%I", unit["_instance"])
            .replace("%n", name).replace("%N", name.rsplit(".", 1)[0]).replace("%p", prefix)
            .replace("%t", "/run").replace("\0", "%"))


def environment(unit):
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "HOME": "/root", "USER": "root", "LOGNAME": "root", "SHELL": "/bin/sh"}
    for ef in get(unit, "Service", "EnvironmentFile", []) or []:
        optional = ef.startswith("-")
        path = specifiers(unit, ef.lstrip("-"))
        try:
            with open(L.host_path(path)) as f:
                for line in f:
                    line = line.strip()
                    if line and not line.startswith(("#", ";")) and "=" in line:
                        k, v = line.split("=", 1)
                        env[k.strip()] = v.strip().strip('"').strip("'")
        except OSError:
            if not optional:
                raise
    for e in get(unit, "Service", "Environment", []) or []:
        for item in shlex.split(specifiers(unit, e)):
            if "=" in item:
                k, v = item.split("=", 1)
                env[k] = v
    return env


def command(unit, line, env):
    """(argv, ignore_failure) for an Exec*= line: prefixes -@+!:, $VAR / ${VAR} expansion, $$ -> $."""
    line = specifiers(unit, line.strip())
    ignore = False
    while line and line[0] in "-@+!:":
        ignore = ignore or line[0] == "-"
        line = line[1:]
    argv = []
    for w in shlex.split(line):
        if re.fullmatch(r"\$[A-Za-z_]\w*", w):
            argv += env.get(w[1:], "").split()
        else:
            # systemd: "$$" is a literal "$"; ${VAR} expands inside a word
            argv.append(re.sub(r"\$\$|\$\{([A-Za-z_]\w*)\}",
                               lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), ""), w))
    return argv, ignore
