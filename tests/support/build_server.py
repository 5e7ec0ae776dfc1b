#!/usr/bin/env python3
"""A stand-in OBS for real package builds (tests/common/deb_build.rs): `osc build` of
home:alice/<package> for Debian_12/<arch>, with the dependencies that obs-build's own
`expanddeps` worked out and the binaries from Debian's archive. One process serves
several packages and several arches (x86_64, natively built, among them).

Listens on 127.0.0.1 (random port), prints "PORT <n>" once it accepts connections,
serves until killed or until --lifetime seconds passed.

  --expanded [ARCH=]FILE
                    output of obs-build's expanddeps for the recipe (for ARCH, default
                    aarch64; repeat the option to serve more arches, e.g. x86_64=FILE): lines
                    "NAME URL", "rpmid: NAME:NAME-[EPOCH:]VERSION[-RELEASE] ...",
                    "preinstall: ...", "runscripts: ..." (others are ignored)
  --config FILE     the project config (prjconf) answered as _buildconfig
  --debs DIR        cache of downloaded .deb files (filled from the URLs on demand)
  --packages A,B    the packages of home:alice it builds (default: any name)
  --arches A,B      the arches the project meta lists for Debian_12 (default: x86_64 and
                    every arch of --expanded)
  --repository R    home:alice's repository (default Debian_12; Debian_N builds on
                    Debian:N/standard)
  --results FILE    answer GET /build/<prj>/_result (OBS's build results) with this text

Every binary served is logged on stderr as "build_server: served ARCH NAME".

Routes: GET /source/<prj>/_meta, GET /build/<prj>/<repo>/_buildconfig,
GET|POST /build/<prj>/<repo>/<arch>/<pkg>/_buildinfo,
GET /build/<prj>/<repo>/<arch>/_repository?binary=N...&view=cpio (members N.deb),
GET /about, GET /configuration. Everything else: 404 with an OBS <status>, logged.
Auth: HTTP Basic alice/opensuse. For the tests (no auth): POST /_delay?seconds=S makes
every binary served from then on take S seconds more (osc's downloads, slowed down).
"""

import argparse
import base64
import os
import re
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from obs_common import cpio_newc, status_xml
from xml.sax.saxutils import quoteattr

PROJECT = "home:alice"
REPOSITORY = "Debian_12"
ARCH = "aarch64"
BASE_PROJECT = "Debian:12"
BASE_REPOSITORY = "standard"


def parse_expanded(text):
    """[{name, url, epoch, version, release, arch, preinstall, runscripts}]"""
    urls, ids, preinstall, runscripts = {}, {}, set(), set()
    for line in text.splitlines():
        if line.startswith("preinstall:"):
            preinstall = set(line.split()[1:])
        elif line.startswith("runscripts:"):
            runscripts = set(line.split()[1:])
        elif line.startswith("rpmid:"):
            # rpmid: NAME:NAME-[EPOCH:]VERSION[-RELEASE] BUILDTIME-ARCH
            _, nevr, _rest = line.split(None, 2)
            name, evr = nevr.split(":", 1)
            ids[name] = evr[len(name) + 1:]
        elif re.match(r"^\S+ (https?|file)://\S+\.deb$", line):
            name, url = line.split()
            urls[name] = url
    packages = []
    for name, url in sorted(urls.items()):
        evr = ids.get(name, "")
        epoch = None
        if re.match(r"^\d+:", evr):
            epoch, evr = evr.split(":", 1)
        if "-" in evr:
            version, release = evr.rsplit("-", 1)
        else:
            version, release = evr, None
        arch = re.search(r"_([a-z0-9]+)\.deb$", url).group(1)
        packages.append({
            "name": name, "url": url, "epoch": epoch, "version": version, "release": release,
            "arch": arch, "preinstall": name in preinstall, "runscripts": name in runscripts,
        })
    return packages


def buildinfo(packages, package, arch=ARCH):
    out = ['<buildinfo project="%s" repository="%s" package="%s">' % (PROJECT, REPOSITORY, package)]
    out.append("  <arch>%s</arch>" % arch)
    out.append("  <versrel>1.0-1</versrel>")
    out.append("  <bcnt>1</bcnt>")
    out.append("  <release>1.1</release>")
    out.append("  <debuginfo>0</debuginfo>")
    for p in packages:
        attrs = [("name", p["name"])]
        if p["epoch"]:
            attrs.append(("epoch", p["epoch"]))
        attrs.append(("version", p["version"]))
        if p["release"]:
            attrs.append(("release", p["release"]))
        attrs.append(("arch", p["arch"]))
        attrs += [("project", BASE_PROJECT), ("repository", BASE_REPOSITORY)]
        if p["preinstall"]:
            attrs.append(("preinstall", "1"))
        if p["runscripts"]:
            attrs.append(("runscripts", "1"))
        attrs.append(("notmeta", "1"))
        out.append("  <bdep %s/>" % " ".join("%s=%s" % (k, quoteattr(v)) for k, v in attrs))
    out.append('  <path project="%s" repository="%s"/>' % (PROJECT, REPOSITORY))
    out.append('  <path project="%s" repository="%s"/>' % (BASE_PROJECT, BASE_REPOSITORY))
    out.append("</buildinfo>")
    return "\n".join(out) + "\n"


def meta(arches):
    """The project meta: one repository building for `arches`."""
    lines = "".join("    <arch>%s</arch>\n" % a for a in arches)
    return """<project name="%s">
  <title>Alice's home</title>
  <description/>
  <repository name="%s">
    <path project="%s" repository="%s"/>
%s  </repository>
</project>
""" % (PROJECT, REPOSITORY, BASE_PROJECT, BASE_REPOSITORY, lines)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("build_server: " + fmt % args + "\n")

    def send(self, code, body, ctype="application/xml; charset=utf-8"):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Basic "):
            return False
        user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
        return (user, pw) == ("alice", "opensuse")

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.posted = self.rfile.read(n) if n else b""
        self.handle_any()

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_delay":
            self.server.delay = float(urllib.parse.parse_qs(url.query)["seconds"][0])
            self.send(200, "<status code=\"ok\"/>\n")
            return
        if not self.authorized():
            self.send_response(401)
            body = status_xml("authentication_required", "Authentication required").encode()
            self.send_header("WWW-Authenticate", 'Basic realm="Use your developer account"')
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
        try:
            code, body, ctype = self.route(parts, query)
        except Exception as e:  # the test reads the log
            sys.stderr.write("build_server: %s failed: %r\n" % (self.path, e))
            code, body, ctype = 500, status_xml("internal_error", str(e)), "application/xml"
        self.send(code, body, ctype)

    def route(self, parts, query):
        xml = "application/xml; charset=utf-8"
        srv = self.server
        if parts == ["about"]:
            return 200, "<about><title>Open Build Service</title><revision>2.10.0</revision></about>\n", xml
        if parts == ["configuration"]:
            return 200, "<configuration><title>stand-in</title></configuration>\n", xml
        if parts[:1] == ["source"] and query.get("cmd") == ["getprojectservices"]:
            return 200, "<services/>\n", xml
        if parts == ["source", PROJECT, "_meta"]:
            return 200, meta(srv.arches), xml
        if parts == ["build", PROJECT, REPOSITORY, "_buildconfig"]:
            return 200, "%%define _project %s\n%s" % (PROJECT, srv.config), "text/plain"
        if (len(parts) == 6 and parts[:3] == ["build", PROJECT, REPOSITORY]
                and parts[3] in srv.packages and parts[5] == "_buildinfo"
                and (srv.names is None or parts[4] in srv.names)):
            # osc posts the recipe; the expansion was made from the same recipe
            return 200, buildinfo(srv.packages[parts[3]], parts[4], parts[3]), xml
        if len(parts) == 5 and parts[0] == "build" and parts[4] == "_repository" and parts[3] in srv.packages:
            if query.get("view", [""])[0] != "cpio":
                return 200, "<binarylist/>\n", xml
            files = []
            for name in query.get("binary", []):
                if srv.delay:
                    time.sleep(srv.delay)
                files.append((name + ".deb", srv.deb(parts[3], name)))
                sys.stderr.write("build_server: served %s %s\n" % (parts[3], name))
            return 200, cpio_newc(files), "application/x-cpio"
        if len(parts) == 3 and parts[0] == "build" and parts[2] == "_result" and srv.results is not None:
            with open(srv.results, encoding="utf-8") as f:
                return 200, f.read(), xml
        return 404, status_xml("not_found", "No such route: /%s" % "/".join(parts)), xml


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def deb(self, arch, name):
        p = self.by_name[arch].get(name)
        if p is None:
            raise KeyError("no package %s in the expansion" % name)
        path = os.path.join(self.debs, os.path.basename(p["url"]))
        with self.lock:
            if not os.path.exists(path):
                # several test processes may share the cache
                tmp = "%s.part.%d" % (path, os.getpid())
                with urllib.request.urlopen(p["url"], timeout=120) as r, open(tmp, "wb") as f:
                    f.write(r.read())
                os.rename(tmp, path)
        with open(path, "rb") as f:
            return f.read()


def main():
    global REPOSITORY, BASE_PROJECT
    ap = argparse.ArgumentParser()
    ap.add_argument("--expanded", required=True, action="append")
    ap.add_argument("--config", required=True)
    ap.add_argument("--debs", required=True)
    ap.add_argument("--packages")
    ap.add_argument("--arches")
    ap.add_argument("--results", metavar="FILE")
    ap.add_argument("--lifetime", type=float, default=3600.0)
    ap.add_argument("--repository", default=REPOSITORY,
                    help="the repository of home:alice (Debian_N: on Debian:N/standard)")
    args = ap.parse_args()
    REPOSITORY = args.repository
    BASE_PROJECT = "Debian:%s" % REPOSITORY.split("_")[-1]
    srv = Server(("127.0.0.1", 0), Handler)
    srv.packages = {}  # arch: [package]
    for spec in args.expanded:
        arch, _, path = spec.rpartition("=")
        with open(path) as f:
            srv.packages[arch or ARCH] = parse_expanded(f.read())
    with open(args.config) as f:
        srv.config = f.read()
    srv.names = set(args.packages.split(",")) if args.packages else None
    if args.arches:
        srv.arches = [a for a in args.arches.split(",") if a]
    else:
        srv.arches = sorted(set(["x86_64"] + list(srv.packages)))
    srv.by_name = {a: {p["name"]: p for p in ps} for a, ps in srv.packages.items()}
    srv.debs = args.debs
    srv.results = args.results
    srv.lock = threading.Lock()
    srv.delay = 0.0
    os.makedirs(srv.debs, exist_ok=True)
    threading.Thread(target=lambda: (time.sleep(args.lifetime), os._exit(0)), daemon=True).start()
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
