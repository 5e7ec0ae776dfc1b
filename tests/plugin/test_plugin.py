"""`osc archbuild` with real osc releases: loading, help, and exact pass-through of
arguments and options to `archbuild build` (a recording stand-in here)."""

import json
import subprocess
import sys

import pytest

from conftest import OscEnv, osc_dir_for

PASS_THROUGH = [
    pytest.param(
        ["openSUSE_Factory_ARM", "armv7l"],
        ["openSUSE_Factory_ARM", "armv7l", "--"],
        id="repo-arch",
    ),
    pytest.param(
        ["Debian_12", "aarch64", "hello.dsc"],
        ["Debian_12", "aarch64", "hello.dsc", "--"],
        id="build-descr",
    ),
    pytest.param(
        ["Debian_13", "aarch64", "--clean", "--accel", "-j", "2"],
        ["Debian_13", "aarch64", "--accel", "--", "--clean", "-j", "2"],
        id="accel",
    ),
    pytest.param(
        ["openSUSE_Tumbleweed", "aarch64", "--clean", "-j", "4", "--no-verify"],
        ["openSUSE_Tumbleweed", "aarch64", "--", "--clean", "-j", "4", "--no-verify"],
        id="options",
    ),
    pytest.param(
        [
            "openSUSE_Tumbleweed", "riscv64", "hello.spec",
            "--define", "_with_foo 1",
            "--keep-pkgs=/var/tmp/out dir",
            "-x", "vim", "--extra-pkgs", "gdb",
            "--alternative-project=home:other",
            "-k", "/tmp/k", "--noinit", "--vm-type=chroot",
            "--without", "docs", "--with=tests", "-M", "flavor",
            "--root", "/var/tmp/build-root/x", "--debug", "-v", "-A", "obs",
            "--", "--after-dashes", "",
        ],
        [
            "openSUSE_Tumbleweed", "riscv64", "hello.spec", "--",
            "--define", "_with_foo 1",
            "--keep-pkgs=/var/tmp/out dir",
            "-x", "vim", "--extra-pkgs", "gdb",
            "--alternative-project=home:other",
            "-k", "/tmp/k", "--noinit", "--vm-type=chroot",
            "--without", "docs", "--with=tests", "-M", "flavor",
            "--root", "/var/tmp/build-root/x", "--debug", "-v", "-A", "obs",
            "--", "--after-dashes", "",
        ],
        id="many-options",
    ),
    pytest.param(
        ["Debian_12", "aarch64", "--help"],
        ["Debian_12", "aarch64", "--", "--help"],
        id="help-goes-to-osc-build",
    ),
]


def test_loads_from_each_plugin_directory(plugin_location, tmp_path):
    """The plugin loads from every per-user plugin directory this osc scans."""
    version, plugin_dir = plugin_location
    env = OscEnv(version, osc_dir_for(version), tmp_path / "home", plugin_dir)
    env.setup()
    result = env.osc("archbuild", "openSUSE_Factory_ARM", "armv7l")
    assert result.returncode == 0, result.stderr
    assert env.recorded()["argv"] == env.expected("openSUSE_Factory_ARM", "armv7l", "--")


def test_help(osc_env):
    result = osc_env.osc("help", "archbuild")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "osc archbuild REPOSITORY ARCH [BUILD_DESCR] [osc build options...]" in out
    assert "su-wrapper" in out
    assert "ARCHBUILD" in out
    assert osc_env.recorded() is None
    listing = osc_env.osc("help")
    assert "archbuild" in listing.stdout + listing.stderr


def test_no_traceback_or_warning_on_load(osc_env):
    """Loading must not disturb osc: no duplicate command, no plugin error."""
    result = osc_env.osc("help", "archbuild")
    assert "Traceback" not in result.stderr
    assert "Failed to load" not in result.stderr
    assert "conflicting" not in result.stderr


@pytest.mark.parametrize("args, rest", PASS_THROUGH)
def test_arguments_reach_archbuild_exactly(osc_env, args, rest):
    result = osc_env.osc("archbuild", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    recorded = osc_env.recorded()
    assert recorded is not None, result.stdout + result.stderr
    assert recorded["argv"] == osc_env.expected(*rest)
    assert recorded["cwd"] == str(osc_env.checkout)
    assert recorded["via_su"] is None  # already root: no su-wrapper


def test_runs_in_the_checkout_it_was_started_in(osc_env):
    """archbuild reads the checkout itself: the plugin runs it in the current directory."""
    other = osc_env.home / "other" / "pkg2"
    osc_env.make_checkout(other, "devel:ARM:Factory", "pkg2")
    result = osc_env.osc("archbuild", "standard", "ppc64le", cwd=other)
    assert result.returncode == 0, result.stderr
    recorded = osc_env.recorded()
    assert recorded["argv"] == osc_env.expected("standard", "ppc64le", "--")
    assert recorded["cwd"] == str(other)


def test_exit_status_is_archbuilds(osc_env):
    result = osc_env.osc("archbuild", "Debian_12", "aarch64", ARCHBUILD_RECORD_EXIT="3")
    assert result.returncode == 3, result.stdout + result.stderr
    assert osc_env.recorded() is not None


def test_not_root_archbuild_runs_as_the_user(osc_env):
    """The plugin never uses the su-wrapper: archbuild runs as the user, and only the build
    program that osc starts later goes through it."""
    osc_env.oscrc_extra = "su-wrapper = env ARCHBUILD_VIA_SU=config"
    osc_env.write_oscrc()
    result = osc_env.osc(
        "archbuild", "Debian_12", "aarch64", "--clean", ARCHBUILD_TEST_FAKE_UID="65534"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    recorded = osc_env.recorded()
    assert recorded["via_su"] is None
    assert recorded["argv"] == osc_env.expected("Debian_12", "aarch64", "--", "--clean")


def test_the_osc_handed_on_is_this_osc(osc_env):
    """--osc names the interpreter and the script of the osc that loaded the plugin."""
    result = osc_env.osc("archbuild", "Debian_12", "aarch64")
    assert result.returncode == 0, result.stderr
    argv = osc_env.recorded()["argv"]
    words = argv[argv.index("--osc") + 1].split()
    assert words == [sys.executable, str(osc_env.osc_script())]
    # the words run an osc that has the plugin: archbuild can start `osc build` with them
    again = subprocess.run(
        words + ["help", "archbuild"], env=osc_env.env(), capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert "osc archbuild REPOSITORY ARCH" in again.stdout + again.stderr


def test_missing_arch_is_a_usage_error(osc_env):
    result = osc_env.osc("archbuild", "Debian_12")
    assert result.returncode != 0
    assert osc_env.recorded() is None


def test_missing_archbuild_binary(osc_env):
    result = osc_env.osc(
        "archbuild", "Debian_12", "aarch64", ARCHBUILD=str(osc_env.home / "no-such-archbuild")
    )
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "no-such-archbuild" in out
    assert "ARCHBUILD" in out


@pytest.mark.parametrize(
    "words",
    [
        pytest.param([], id="bare"),
        pytest.param(["-a", "aarch64", "-a", "armv7l", "-j", "2"], id="batch-options"),
        pytest.param(
            ["--resume", "--report", "junit=out.xml", "--", "--clean", "-j", "4"],
            id="osc-build-options-after-dashes",
        ),
        pytest.param(["../pkg2", "-r", "Debian_12"], id="more-checkouts"),
    ],
)
def test_all_hands_everything_after_it_to_archbuild_batch(osc_env, words):
    """`osc archbuild --all ...` is `archbuild batch ...`, the words unchanged and in order."""
    result = osc_env.osc("archbuild", "--all", *words)
    assert result.returncode == 0, result.stdout + result.stderr
    recorded = osc_env.recorded()
    assert recorded is not None, result.stdout + result.stderr
    expected = osc_env.expected(*words)
    expected[0] = "batch"
    assert recorded["argv"] == expected
    assert recorded["cwd"] == str(osc_env.checkout)
