"""Test support for the osc plugin: real osc releases, a fake checkout, a recording archbuild.

Each pinned osc release is installed outside any virtualenv (osc does not load plugins
inside one) with

    pip install --target /opt/archbuild-test/osc-<version> osc==<version>

and run as `python3 <dir>/bin/osc` with PYTHONPATH=<dir>. ARCHBUILD_TEST_OSC_ROOT moves
/opt/archbuild-test. A missing release is skipped with the reason printed, or fails the
test under CI=true.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PLUGIN = REPO_ROOT / "osc-plugin" / "archbuild.py"

# The releases the plugin is tested with: the latest 1.x (class plugins, osc >= 1.1),
# 1.0 (legacy do_ functions on argparse) and 0.182 (legacy do_ functions on optparse,
# the last 0.x; needs M2Crypto, which builds with swig and libssl-dev).
OSC_VERSIONS = ["1.28.0", "1.0.0", "0.182.0"]

APIURL = "http://127.0.0.1:9"
PROJECT = "home:tester:arm"
PACKAGE = "hello"


def in_ci():
    return os.environ.get("CI") in ("true", "1")


def prerequisite(ok, what):
    """Fail under CI, skip (printing why) elsewhere, when `ok` is false."""
    if ok:
        return
    if in_ci():
        pytest.fail("prerequisite missing under CI=true: " + what)
    print("SKIPPED: " + what, file=sys.stderr)
    pytest.skip(what)


def osc_root():
    return Path(os.environ.get("ARCHBUILD_TEST_OSC_ROOT", "/opt/archbuild-test"))


def version_tuple(version):
    return tuple(int(x) for x in version.split("."))


class OscEnv:
    """One osc release, a HOME with the plugin, an oscrc and a package checkout."""

    def __init__(self, version, osc_dir, home, plugin_dir):
        self.version = version
        self.osc_dir = osc_dir
        self.home = home
        self.plugin_dir = plugin_dir
        self.oscrc = home / ".oscrc"
        self.checkout = home / "obs" / PROJECT / PACKAGE
        self.record = home / "archbuild-argv.json"
        self.stub = home / "bin" / "archbuild-stub"
        self.custom = home / "pycustom"
        self.oscrc_extra = ""

    def setup(self):
        (self.home / self.plugin_dir).mkdir(parents=True)
        shutil.copy(PLUGIN, self.home / self.plugin_dir / "archbuild.py")
        self.write_oscrc()
        self.make_checkout(self.checkout, PROJECT, PACKAGE)
        self.make_stub()
        self.make_sitecustomize()

    def write_oscrc(self):
        self.oscrc.write_text(
            textwrap.dedent(
                f"""\
                [general]
                apiurl = {APIURL}
                {self.oscrc_extra}
                [{APIURL}]
                user = tester
                pass = secret
                allow_http = 1
                """
            )
        )
        self.oscrc.chmod(0o600)

    def make_checkout(self, path, project, package):
        """A package checkout as `osc checkout` leaves it (store format 1.0; newer osc
        migrates it to its own format the first time it reads it)."""
        store = path / ".osc"
        store.mkdir(parents=True)
        (store / "_osclib_version").write_text("1.0\n")
        (store / "_apiurl").write_text(APIURL + "\n")
        (store / "_project").write_text(project + "\n")
        (store / "_package").write_text(package + "\n")
        (store / "_files").write_text(
            f'<directory name="{package}" rev="1" srcmd5="d41d8cd98f00b204e9800998ecf8427e" />\n'
        )
        (store / "_meta").write_text(
            f'<package name="{package}" project="{project}"><title/><description/></package>\n'
        )
        (store / "_to_be_added").write_text("")
        (store / "_in_conflict").write_text("")
        (path / f"{package}.spec").write_text("Name: hello\n")

    def make_stub(self):
        """The recording stand-in for the archbuild binary: argv, cwd and a few
        environment variables as JSON, then the exit status asked for."""
        self.stub.parent.mkdir(parents=True, exist_ok=True)
        self.stub.write_text(
            textwrap.dedent(
                f"""\
                #!{sys.executable}
                import json, os, sys
                with open(os.environ["ARCHBUILD_RECORD"], "w") as f:
                    json.dump({{
                        "argv": sys.argv[1:],
                        "cwd": os.getcwd(),
                        "via_su": os.environ.get("ARCHBUILD_VIA_SU"),
                    }}, f)
                sys.exit(int(os.environ.get("ARCHBUILD_RECORD_EXIT", "0")))
                """
            )
        )
        self.stub.chmod(0o755)

    def make_sitecustomize(self):
        """Lets a test run osc as if it were not root (the plugin then uses su-wrapper)."""
        self.custom.mkdir()
        (self.custom / "sitecustomize.py").write_text(
            textwrap.dedent(
                """\
                import os
                _uid = os.environ.get("ARCHBUILD_TEST_FAKE_UID")
                if _uid:
                    os.getuid = os.geteuid = lambda: int(_uid)
                """
            )
        )

    def env(self, **extra):
        env = {
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": f"{self.custom}:{self.osc_dir}",
            "ARCHBUILD": str(self.stub),
            "ARCHBUILD_RECORD": str(self.record),
            "LANG": "C.UTF-8",
            "USER": "root",
        }
        env.update({k: v for k, v in extra.items() if v is not None})
        return env

    def osc(self, *args, cwd=None, **extra_env):
        if self.record.exists():
            self.record.unlink()
        return subprocess.run(
            [sys.executable, str(self.osc_script()), *args],
            cwd=str(cwd or self.checkout),
            env=self.env(**extra_env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def osc_script(self):
        """bin/osc (osc >= 1.0) or bin/osc-wrapper.py (osc 0.x)."""
        for name in ("osc", "osc-wrapper.py"):
            path = self.osc_dir / "bin" / name
            if path.is_file():
                return path
        raise AssertionError(f"no osc script in {self.osc_dir / 'bin'}")

    def recorded(self):
        if not self.record.exists():
            return None
        return json.loads(self.record.read_text())

    def expected(self, *rest):
        """`archbuild build` as the plugin runs it: this very osc, the apiurl, the oscrc."""
        argv = ["build", "--osc", f"{sys.executable} {self.osc_script()}", "--apiurl", APIURL]
        argv += ["--oscrc", str(self.oscrc)]
        return argv + list(rest)


def osc_dir_for(version):
    osc_dir = osc_root() / f"osc-{version}"
    prerequisite(
        (osc_dir / "osc" / "__init__.py").is_file(),
        f"osc {version} is not installed in {osc_dir}: "
        f"pip install --target {osc_dir} osc=={version}",
    )
    prerequisite(
        sys.prefix == sys.base_prefix,
        "python3 runs in a virtualenv, where osc loads no plugins",
    )
    return osc_dir


def plugin_dirs_for(version):
    """The per-user plugin directories that this osc scans."""
    dirs = [".osc-plugins"]
    if version_tuple(version) >= (1, 0, 0):
        dirs.append(".local/lib/osc-plugins")
    return dirs


@pytest.fixture(params=OSC_VERSIONS, ids=lambda v: f"osc-{v}")
def osc_env(request, tmp_path):
    version = request.param
    osc_dir = osc_dir_for(version)
    env = OscEnv(version, osc_dir, tmp_path / "home", ".osc-plugins")
    env.setup()
    return env


def pytest_generate_tests(metafunc):
    if "plugin_location" in metafunc.fixturenames:
        params = [(v, d) for v in OSC_VERSIONS for d in plugin_dirs_for(v)]
        metafunc.parametrize(
            "plugin_location", params, ids=[f"osc-{v}-~/{d}" for v, d in params]
        )
