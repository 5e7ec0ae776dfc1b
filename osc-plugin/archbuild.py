# osc plugin: `osc archbuild REPOSITORY ARCH [BUILD_DESCR] [osc build options...]`
#
# `osc build` for a foreign architecture under archbuild's emulation: hands the work to
# `archbuild build`, which runs this same osc (as you, on this host) for `osc build` with
# osc's su-wrapper routing the build program through archbuild. What exactly runs where
# is archbuild's to say (its first line of output, `archbuild build --help`), not this
# file's.
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
import shutil
import signal
import subprocess
import sys

import osc.commandline
from osc import conf as _archbuild_conf
from osc import oscerr as _archbuild_oscerr

_ARCHBUILD_HELP = """Run `osc build` for ARCH under archbuild's emulation

Builds the package in the current osc checkout for a foreign architecture (armv7l,
aarch64, ppc64le, s390x, riscv64, ...) on this machine. `archbuild build` runs this
osc as you, exactly like `osc build REPOSITORY ARCH [BUILD_DESCR] [options]` (your
oscrc, credentials, package cache and build root), except that the build program
osc starts through its su-wrapper (default: sudo) runs under archbuild's emulation
for ARCH. Its first line says what runs where; `archbuild build --help` has the
details.

usage:
    osc archbuild REPOSITORY ARCH [BUILD_DESCR] [osc build options...]
    osc archbuild --all [DIR...] [archbuild batch options...] [-- osc build options...]

Everything after REPOSITORY ARCH is handed to `osc build` unchanged, so every
`osc build` option works (see `osc help build`); put them after ARCH. The one
exception is --accel, archbuild's own: native x86_64 compilers and binutils from
the arch's acceleration bundle run where the build root's are the ones they were
made for (`archbuild build --help`).

With --all, every repository x arch that OBS would build for the package (see
`archbuild check --plan`) is built, in parallel, by `archbuild batch`; everything
after --all is handed to it (see `archbuild batch --help`): -r REPO, -a ARCH,
-j N, --resume, --report junit=PATH, and osc build options after `--`.

examples:
    osc archbuild openSUSE_Factory_ARM armv7l
    osc archbuild openSUSE_Tumbleweed aarch64 --clean -j 4
    osc archbuild Debian_12 aarch64 mypkg.dsc --keep-pkgs=../out
    osc archbuild Debian_13 aarch64 --accel --clean
    osc archbuild --all -a aarch64 -a armv7l -j 2 -- --clean

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


def _archbuild_this_osc():
    """This osc, as a command line: the interpreter and the script it runs."""
    return "%s %s" % (sys.executable, os.path.abspath(sys.argv[0]))


def _archbuild_program():
    program = os.environ.get("ARCHBUILD") or "archbuild"
    if os.sep not in program:
        program = shutil.which(program) or program
    return program


def _archbuild_common(subcommand, apiurl):
    """`archbuild SUBCOMMAND --osc THIS-OSC --apiurl APIURL [--oscrc OSCRC]`"""
    cmd = [_archbuild_program(), subcommand, "--osc", _archbuild_this_osc(), "--apiurl", apiurl]
    try:
        conffile = _archbuild_conf.config["conffile"]
    except (KeyError, TypeError):
        conffile = None
    if conffile:
        cmd += ["--oscrc", os.path.abspath(os.path.expanduser(conffile))]
    return cmd


def _archbuild_all_words():
    """The words after `archbuild --all` on osc's command line, None without --all.

    Read from the command line itself: osc's parsers (optparse, argparse) would reorder
    or split the batch options that follow --all.
    """
    argv = sys.argv[1:]
    if "archbuild" not in argv:
        return None
    rest = argv[argv.index("archbuild") + 1:]
    if not rest or rest[0] != "--all":
        return None
    return rest[1:]


def _archbuild_command(apiurl, positional):
    """The command line to run: archbuild build --osc THIS-OSC ... -- options, or
    archbuild batch ... for --all."""
    words = _archbuild_all_words()
    if words is not None:
        return _archbuild_common("batch", apiurl) + words
    repository, arch, descr, options = _archbuild_split(positional)
    cmd = _archbuild_common("build", apiurl)
    cmd += [repository, arch]
    if descr is not None:
        cmd.append(descr)
    # archbuild's own option: osc build has no --accel
    if "--accel" in options:
        options = [o for o in options if o != "--accel"]
        cmd.append("--accel")
    cmd.append("--")
    cmd += options
    return cmd


def _archbuild_run(apiurl, positional):
    """Run archbuild; return its exit status (128+N when a signal N ended it)."""
    cmd = _archbuild_command(apiurl, positional)
    try:
        proc = subprocess.Popen(cmd)
    except OSError as e:
        _archbuild_fail(
            "cannot run %s: %s (install archbuild, or point ARCHBUILD at it)" % (cmd[0], e)
        )
    # Ctrl-C reaches the osc that builds through the terminal's process group: it stops
    # the build and returns. Wait for it instead of dying first.
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
            self.add_argument(
                "repository", metavar="REPOSITORY", nargs="?", help="repository to build for"
            )
            self.add_argument("arch", metavar="ARCH", nargs="?", help="architecture to build for")
            self.add_argument(
                "build_args",
                metavar="[BUILD_DESCR] [osc build options...]",
                nargs=argparse.REMAINDER,
                help="build description and `osc build` options, passed on unchanged",
            )
            self.add_argument(
                "--all",
                metavar="BATCH_OPTIONS",
                nargs=argparse.REMAINDER,
                help="build every repository and arch OBS would build, with `archbuild batch`",
            )

        def run(self, args):
            positional = [w for w in (args.repository, args.arch) if w is not None]
            positional += list(args.build_args or [])
            return _archbuild_run(args.apiurl, positional)

else:
    from osc import cmdln as _archbuild_cmdln

    def do_archbuild(self, subcmd, opts, *args):
        # docstring set below: the same text as for osc >= 1.1
        positional = list(args)
        if getattr(opts, "archbuild_repository", None):  # osc 1.0 (argparse)
            positional = [opts.archbuild_repository]
            positional += [opts.archbuild_arch] if opts.archbuild_arch else []
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

        def _archbuild_take_the_rest(option, opt, value, parser):
            # everything after --all is archbuild batch's (read again from sys.argv)
            del parser.rargs[:]

        do_archbuild.optparser.add_option(
            "--all", action="callback", callback=_archbuild_take_the_rest,
            help="build every repository and arch OBS would build, with `archbuild batch`",
        )
    else:
        # osc 1.0: argparse; positional arguments are declared as options
        do_archbuild = _archbuild_cmdln.option(
            "archbuild_args",
            metavar="[BUILD_DESCR] [osc build options...]",
            nargs=argparse.REMAINDER,
            help="build description and `osc build` options, passed on unchanged",
        )(do_archbuild)
        do_archbuild = _archbuild_cmdln.option(
            "--all",
            metavar="BATCH_OPTIONS",
            nargs=argparse.REMAINDER,
            help="build every repository and arch OBS would build, with `archbuild batch`",
        )(do_archbuild)
        do_archbuild = _archbuild_cmdln.option(
            "archbuild_arch", metavar="ARCH", nargs="?", help="architecture to build for"
        )(do_archbuild)
        do_archbuild = _archbuild_cmdln.option(
            "archbuild_repository", metavar="REPOSITORY", nargs="?",
            help="repository to build for",
        )(do_archbuild)
