# osc plugin: `osc archbuild REPOSITORY ARCH [BUILD_DESCR] [osc build options...]`
#
# Runs `osc build` for the package checkout in the current directory inside an
# archbuild architecture emulation container (a foreign-arch root run by qemu-user),
# by handing the work to `archbuild build`.
#
# One file for every osc: osc >= 1.1 loads command classes (osc.commandline.OscCommand),
# older osc (0.x and 1.0) loads `do_<name>` functions. Only one of the two is defined,
# chosen by a feature check: osc >= 1.1 crashes on a file that defines both (the same
# subcommand would be registered twice).
#
# Install: /usr/lib/osc-plugins/archbuild.py (or ~/.local/lib/osc-plugins/ for osc >= 1.0,
# ~/.osc-plugins/ for every osc).
#
# Note for the legacy loader (osc < 1.1 and the compatibility loader of later osc): it copies
# every function of this module into osc's command class and overwrites this module's
# globals with those of osc.commandline, so every helper here is prefixed `_archbuild_`.

import argparse
import os
import pwd
import shutil
import signal
import subprocess
import sys

import osc.commandline
from osc import conf as _archbuild_conf
from osc import oscerr as _archbuild_oscerr

_ARCHBUILD_HELP = """Run `osc build` inside an archbuild emulation container of ARCH

Builds the package in the current osc checkout for a foreign architecture (armv7l,
aarch64, ppc64le, s390x, riscv64, ...) on this machine: `archbuild build` finds or
creates the architecture emulation container for ARCH (a root file system of that
architecture run by qemu-user through binfmt_misc), and runs
`osc build REPOSITORY ARCH [BUILD_DESCR] [options]` inside it as you, in this
directory, with your osc configuration. Inside, osc sees a native build.

usage:
    osc archbuild REPOSITORY ARCH [BUILD_DESCR] [osc build options...]

Everything after REPOSITORY ARCH is handed to `osc build` unchanged, so every
`osc build` option works (see `osc help build`); put them after ARCH.
The build root and the package cache stay at osc's defaults under /var/tmp,
which the container shares with this machine: results, logs and downloaded
packages are visible here and reused between containers and runs.

archbuild needs root; like `osc build`, the plugin gets it with the osc
configuration's su-wrapper (default: sudo) unless osc already runs as root.

examples:
    osc archbuild openSUSE_Factory_ARM armv7l
    osc archbuild openSUSE_Tumbleweed aarch64 --clean -j 4
    osc archbuild Debian_12 aarch64 mypkg.dsc --keep-pkgs=../out

environment:
    ARCHBUILD    path of the archbuild program (default: archbuild on PATH)
"""


def _archbuild_fail(msg):
    raise _archbuild_oscerr.WrongArgs(msg)


def _archbuild_split(positional):
    """Split `REPOSITORY ARCH [BUILD_DESCR] [options...]` into its parts.

    BUILD_DESCR is the first word after ARCH when it is not an option; everything
    else is kept, in order, for `osc build`.
    """
    positional = list(positional)
    if len(positional) < 2 or positional[0].startswith("-") or positional[1].startswith("-"):
        _archbuild_fail(
            "usage: osc archbuild REPOSITORY ARCH [BUILD_DESCR] [osc build options...] "
            "(options go after REPOSITORY ARCH)"
        )
    repository, arch = positional[0], positional[1]
    rest = positional[2:]
    descr = None
    if rest and not rest[0].startswith("-"):
        descr = rest.pop(0)
    return repository, arch, descr, rest


def _archbuild_checkout(path):
    """(project, package) of the osc package checkout at `path`, read with osc's store API."""
    msg = "not an osc package checkout: run it in a directory made by `osc checkout`"
    if not os.path.isdir(os.path.join(path, ".osc")):
        _archbuild_fail(msg)
    project = package = None
    try:
        from osc import store as osc_store  # osc >= 1.0

        if hasattr(osc_store, "get_store"):
            store = osc_store.get_store(path)
        else:
            store = osc_store.Store(path)
        project, package = store.project, store.package
    except ImportError:
        from osc import core as osc_core  # osc 0.x

        if not osc_core.is_package_dir(path):
            _archbuild_fail(msg)
        project = osc_core.store_read_project(path)
        package = osc_core.store_read_package(path)
    except _archbuild_oscerr.NoWorkingCopy:
        _archbuild_fail(msg)
    if not project or not package:
        _archbuild_fail(msg)
    return project, package


def _archbuild_su_wrapper():
    """The command prefix that gives root, the way `osc build` gets it."""
    if os.geteuid() == 0:
        return None
    value = os.environ.get("OSC_SU_WRAPPER")
    if value is None:
        try:
            value = _archbuild_conf.config["su-wrapper"]
        except (KeyError, TypeError):
            value = "sudo"
    return (value or "").split()


def _archbuild_wrap(sucmd, cmd):
    """Prefix `cmd` with the su-wrapper exactly as osc's build.su_wrapper() does."""
    if not sucmd:
        return cmd
    sucmd = list(sucmd)
    if sucmd[0] == "su":
        if sucmd[-1] == "-c":
            sucmd.pop()
        return sucmd + ["-s", cmd[0], "root", "--"] + cmd[1:]
    return sucmd + cmd


def _archbuild_user():
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return os.environ.get("USER") or os.environ.get("LOGNAME") or str(os.getuid())


def _archbuild_command(apiurl, positional):
    """The full command line to run: [su-wrapper] archbuild build ... -- options."""
    repository, arch, descr, options = _archbuild_split(positional)
    cwd = os.getcwd()
    project, package = _archbuild_checkout(cwd)
    program = os.environ.get("ARCHBUILD") or "archbuild"
    if os.sep not in program:
        # sudo's secure_path may not include where archbuild was installed
        program = shutil.which(program) or program
    cmd = [program, "build", "--apiurl", apiurl, "--project", project, "--package", package]
    sucmd = _archbuild_su_wrapper()
    if sucmd is not None:
        # not root: archbuild runs as root and must know whom to build as
        cmd += ["--user", _archbuild_user()]
    try:
        conffile = _archbuild_conf.config["conffile"]
    except (KeyError, TypeError):
        conffile = None
    if conffile:
        cmd += ["--oscrc", os.path.abspath(os.path.expanduser(conffile))]
    cmd += [repository, arch]
    if descr is not None:
        cmd.append(descr)
    cmd.append("--")
    cmd += options
    return _archbuild_wrap(sucmd, cmd)


def _archbuild_run(apiurl, positional):
    """Run archbuild; return its exit status (128+N when a signal N ended it)."""
    cmd = _archbuild_command(apiurl, positional)
    try:
        proc = subprocess.Popen(cmd)
    except OSError as e:
        _archbuild_fail(
            "cannot run %s: %s (install archbuild, or point ARCHBUILD at it)" % (cmd[0], e)
        )
    # Ctrl-C reaches archbuild through the terminal's process group: it stops the build
    # inside the container and returns. Wait for it instead of dying first.
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        status = proc.wait()
    finally:
        signal.signal(signal.SIGINT, old)
    if status < 0:
        return 128 - status
    return status


if hasattr(osc.commandline, "OscCommand"):

    class ArchbuildCommand(osc.commandline.OscCommand):
        __doc__ = _ARCHBUILD_HELP

        name = "archbuild"

        def init_arguments(self):
            self.add_argument("repository", metavar="REPOSITORY", help="repository to build for")
            self.add_argument("arch", metavar="ARCH", help="architecture to build for")
            self.add_argument(
                "build_args",
                metavar="[BUILD_DESCR] [osc build options...]",
                nargs=argparse.REMAINDER,
                help="build description and `osc build` options, passed on unchanged",
            )

        def run(self, args):
            positional = [args.repository, args.arch] + list(args.build_args or [])
            return _archbuild_run(args.apiurl, positional)

else:
    from osc import cmdln as _archbuild_cmdln

    def do_archbuild(self, subcmd, opts, *args):
        # docstring set below: the same text as for osc >= 1.1
        positional = list(args)
        if getattr(opts, "archbuild_repository", None):  # osc 1.0 (argparse)
            positional = [opts.archbuild_repository, opts.archbuild_arch]
            positional += list(opts.archbuild_args or []) + list(args)
        status = _archbuild_run(self.get_api_url(), positional)
        if status:
            sys.exit(status)
        return 0

    # osc's legacy help dedents the docstring as if it were a method's: indent it like one
    do_archbuild.__doc__ = "\n".join(
        ("        " + line) if line and i else line
        for i, line in enumerate(_ARCHBUILD_HELP.splitlines())
    ) + "\n"

    if hasattr(_archbuild_cmdln, "SubCmdOptionParser"):
        # osc 0.x: optparse; stop at REPOSITORY so that the options after it stay arguments
        do_archbuild.optparser = _archbuild_cmdln.SubCmdOptionParser()
        do_archbuild.optparser.disable_interspersed_args()
    else:
        # osc 1.0: argparse; positional arguments are declared as options
        do_archbuild = _archbuild_cmdln.option(
            "archbuild_args",
            metavar="[BUILD_DESCR] [osc build options...]",
            nargs=argparse.REMAINDER,
            help="build description and `osc build` options, passed on unchanged",
        )(do_archbuild)
        do_archbuild = _archbuild_cmdln.option(
            "archbuild_arch", metavar="ARCH", help="architecture to build for"
        )(do_archbuild)
        do_archbuild = _archbuild_cmdln.option(
            "archbuild_repository", metavar="REPOSITORY", help="repository to build for"
        )(do_archbuild)
