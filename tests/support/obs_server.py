#!/usr/bin/env python3
"""A stand-in for the Open Build Service API, for archbuild's tests.

Listens on 127.0.0.1 (a random port unless --port), prints "PORT <n>" on stdout once
it accepts connections, and serves until killed or until --lifetime seconds passed.

Routes (as the OBS API has them):
  GET  /source/<prj>/_meta                       project meta
  GET  /source/<prj>/_config                     project config (prjconf)
  GET  /source/<prj>/<pkg>/_meta                 package meta (tests/data/matrix/server)
  GET  /build/<prj>/<repo>/_buildconfig          prjconfs of the expanded path, combined as
                                                 the OBS backend does (%define _project,
                                                 "### from", %define _repository, Macros cut)
  GET  /configuration                            instance configuration (download_url)
  GET|POST /build/<prj>/<repo>/<arch>/<pkg>/_buildinfo
  GET  /build/<prj>/<repo>/<arch>/_repository    binarylist, or with binary=..&view=cpio a
                                                 cpio (newc) archive of the named binaries
  GET  /build/<prj>/_result[?package=P..&multibuild=1&locallink=1&repository=R..&arch=A..]
                                                 build results (<resultlist>, as
                                                 buildresult.rng): every repository x arch
                                                 of the project meta, for each package
                                                 asked for that has a meta here or a set
                                                 result; flavors (P:F) only with
                                                 multibuild=1; a package code is
                                                 "succeeded" unless set; --results FILE
                                                 answers the file's text instead;
                                                 --old-results refuses multibuild= and
                                                 locallink= with 400, as an old OBS did
  GET  /about                                    <about> (osc may ask)

Auth: HTTP Basic against --user/--password (401 with WWW-Authenticate: Basic and a
<status> body otherwise). Errors are <status code=".."><summary>..</summary></status>.

Faults, armed per request through the control route (not part of OBS):
  POST /_fault?kind=K&count=N[&match=SUBSTRING][&seconds=S]
  kinds: slow (answer after S seconds), 500, 503, truncated (body cut off mid-way),
         malformed (200 with broken XML), disconnect (close without answering)
  The next N requests whose path contains SUBSTRING get the fault.
  GET /_log lists the requests served (method path status), one a line.

Build results, set through a control route (not part of OBS):
  POST /_results?project=P&repository=R&arch=A&package=PKG[:FLAVOR]&code=C[&details=D]
       the code of a package (or flavor) in one repository/arch
  POST /_results?project=P&repository=R&arch=A&repocode=C[&details=D][&dirty=1]
       the state of the repository itself (published, broken, blocked, ...)

Documents come from tests/data/obs/ beside this file's directory, plus variants made
here: a path chain three projects deep, a Debian project with download-on-demand,
home projects that build against openSUSE:Factory.
"""

import argparse
import base64
import hashlib
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from obs_common import cpio_newc, status_xml
from xml.sax.saxutils import quoteattr, escape

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "data", "obs")
MATRIX = os.path.join(os.path.dirname(HERE), "data", "matrix", "server")


def data(name):
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        return f.read()


def build_projects(download_url, own_url):
    """project name -> {"meta": str, "config": str}"""
    p = {}
    p["openSUSE:Factory"] = {
        "meta": data("project_meta_openSUSE_Factory_fixture.xml"),
        "config": data("prjconf_tumbleweed.txt"),
    }
    p["openSUSE:Factory:Staging:H"] = {
        "meta": data("project_meta_staging_path_chain.xml"),
        "config": "",
    }
    p["openSUSE:Factory:Staging"] = {
        "meta": """<project name="openSUSE:Factory:Staging">
  <title>Staging</title>
  <description/>
  <repository name="standard">
    <path project="openSUSE:Factory" repository="standard"/>
    <arch>i586</arch>
    <arch>x86_64</arch>
  </repository>
</project>
""",
        "config": "# staging\nSupport: staging-extra\n",
    }
    p["superkde"] = {"meta": data("project_meta.xml"), "config": ""}
    p["home:user5"] = {"meta": data("project_meta_dod_several.xml"), "config": ""}
    p["test:factory"] = {"meta": data("project_meta_path_to_remote_tumbleweed.xml"), "config": ""}
    # interconnect: the remote instance is this server's /public (as api.opensuse.org/public)
    p["openSUSE.org"] = {
        "meta": data("project_meta_remote_instance.xml").replace("https://api.opensuse.org/public", own_url + "/public"),
        "config": "",
    }
    # OBS proxies the remote project's meta under the interconnect name
    p["openSUSE.org:openSUSE:Tumbleweed"] = {
        "meta": """<project name="openSUSE.org:openSUSE:Tumbleweed">
  <title>Tumbleweed</title>
  <description/>
  <repository name="standard">
    <arch>x86_64</arch>
    <arch>i586</arch>
  </repository>
</project>
""",
        "config": "Preinstall: rpm\nRequired: rpm-build\n",
    }
    # a home project building against Factory, and a branch of it: three projects deep
    p["home:alice"] = {
        "meta": """<project name="home:alice">
  <title>Alice's home</title>
  <description/>
  <person userid="alice" role="maintainer"/>
  <repository name="openSUSE_Tumbleweed">
    <path project="openSUSE:Factory" repository="ports"/>
    <arch>x86_64</arch>
    <arch>aarch64</arch>
    <arch>armv6l</arch>
  </repository>
  <repository name="Debian_12">
    <path project="Debian:12" repository="main"/>
    <arch>x86_64</arch>
    <arch>aarch64</arch>
  </repository>
  <repository name="published_only">
    <path project="home:bob" repository="plain"/>
    <arch>riscv64</arch>
  </repository>
</project>
""",
        "config": "Required: alice-tools\n%ifarch aarch64\nPreinstall: alice-aarch64-helper\n%endif\n",
    }
    p["home:alice:branches:home:alice"] = {
        "meta": """<project name="home:alice:branches:home:alice">
  <title>Branch</title>
  <description/>
  <repository name="openSUSE_Tumbleweed">
    <path project="home:alice" repository="openSUSE_Tumbleweed"/>
    <arch>aarch64</arch>
  </repository>
</project>
""",
        "config": "",
    }
    p["home:bob"] = {
        "meta": """<project name="home:bob">
  <title>Bob</title>
  <description/>
  <repository name="plain">
    <arch>riscv64</arch>
  </repository>
</project>
""",
        "config": "Preinstall: rpm bash\n",
    }
    # a Debian project with download on demand
    p["Debian:12"] = {
        "meta": """<project name="Debian:12">
  <title>Debian 12</title>
  <description/>
  <repository name="main">
    <download arch="x86_64" url="http://deb.example.test/debian/bookworm/main" repotype="deb"/>
    <download arch="aarch64" url="http://deb.example.test/debian/bookworm/main,contrib" repotype="deb"/>
    <arch>x86_64</arch>
    <arch>aarch64</arch>
  </repository>
</project>
""",
        "config": data("prjconf_debian12.txt"),
    }
    # loops: must not hang a client
    p["loop:a"] = {
        "meta": '<project name="loop:a"><title/><description/><repository name="r"><path project="loop:b" repository="r"/><arch>x86_64</arch></repository></project>\n',
        "config": "",
    }
    p["loop:b"] = {
        "meta": '<project name="loop:b"><title/><description/><repository name="r"><path project="loop:a" repository="r"/><arch>x86_64</arch></repository></project>\n',
        "config": "",
    }
    configuration = data("configuration.xml").replace(
        "</configuration>",
        "  <download_url>%s</download_url>\n</configuration>" % download_url,
    )
    remote_configuration = data("configuration.xml").replace(
        "</configuration>",
        "  <download_url>https://download.remote.example.test/repositories</download_url>\n</configuration>",
    )
    return p, configuration, remote_configuration


def matrix_fixtures():
    """Projects and package metas of tests/data/matrix/server/<project>/ (_meta, _config,
    packages/<package>/_meta): ({project: {"meta", "config"}}, {(project, package): meta})."""
    projects, packages = {}, {}
    for prj in sorted(os.listdir(MATRIX)) if os.path.isdir(MATRIX) else []:
        d = os.path.join(MATRIX, prj)
        read = lambda *p: open(os.path.join(d, *p), encoding="utf-8").read()
        projects[prj] = {"meta": read("_meta"), "config": read("_config") if os.path.exists(os.path.join(d, "_config")) else ""}
        pd = os.path.join(d, "packages")
        for pkg in sorted(os.listdir(pd)) if os.path.isdir(pd) else []:
            packages[(prj, pkg)] = read("packages", pkg, "_meta")
    return projects, packages


def repo_paths(meta, repo):
    """[(project, repository)] of <repository name=repo> in a meta document."""
    m = re.search(r'<repository\s+name=["\']%s["\'][^>]*>(.*?)</repository>' % re.escape(repo), meta, re.S)
    if not m:
        return None
    return re.findall(r'<path\s+project=["\']([^"\']+)["\']\s+repository=["\']([^"\']+)["\']', m.group(1))


def expand_path(projects, prj, repo):
    """The OBS expansion: only the last element's own paths are inherited."""
    done, expanded, ret = set(), set(), []
    path = [(prj, repo)]
    while path:
        t = path.pop(0)
        if t not in done:
            ret.append(t)
            done.add(t)
        if not path:
            if t in expanded:
                break
            expanded.add(t)
            proj = projects.get(t[0])
            if not proj:
                continue
            paths = repo_paths(proj["meta"], t[1]) or []
            path.extend(paths)
    return ret


def combined_config(projects, prj, repo):
    """The backend's getconfig: %define _project, then each project of the path from the
    last to the first, with its Macros: blocks cut out."""
    config = "%%define _project %s\n" % prj
    for p, r in reversed(expand_path(projects, prj, repo)):
        c = projects.get(p, {}).get("config")
        if c is None:
            continue
        config += "\n### from %s\n" % p
        config += "%%define _repository %s\n" % r
        c = re.sub(r"^\s*macros:\s*$.*?^\s*:macros\s*$", "", c, flags=re.M | re.S | re.I)
        c = re.sub(r"^\s*macros:\s*$.*\Z", "", c, flags=re.M | re.S | re.I)
        config += c
    return config


def repo_arches(meta):
    """[(repository, [arch])] of a project meta, in order."""
    out = []
    for m in re.finditer(r'<repository\s+name=["\']([^"\']+)["\'][^>]*>(.*?)</repository>', meta, re.S):
        out.append((m.group(1), re.findall(r"<arch>\s*([^<\s]+)\s*</arch>", m.group(2))))
    return out


def result_document(server, prj, query):
    """The <resultlist> of GET /build/<prj>/_result, as the OBS API answers it."""
    meta = server.projects[prj]["meta"]
    asked = query.get("package", [])
    multibuild = query.get("multibuild", [""])[0] in ("1", "true")
    repos, arches = query.get("repository", []), query.get("arch", [])
    with server.results_lock:
        codes = dict(server.results)
        repo_states = dict(server.repo_states)
    lines = []
    for repo, repo_arch_list in repo_arches(meta):
        if repos and repo not in repos:
            continue
        for arch in repo_arch_list:
            if arches and arch not in arches:
                continue
            code, details, dirty = repo_states.get((prj, repo, arch), ("published", None, False))
            attrs = "project=%s repository=%s arch=%s code=%s state=%s" % (
                quoteattr(prj), quoteattr(repo), quoteattr(arch), quoteattr(code), quoteattr(code))
            if details:
                attrs += " details=%s" % quoteattr(details)
            if dirty:
                attrs += ' dirty="true"'
            names = []
            for pkg in asked or sorted({k[1].split(":")[0] for k in codes if k[0] == prj} |
                                       {k[1] for k in server.packages if k[0] == prj}):
                if (prj, pkg) in server.packages or any(k[0] == prj and k[1] == pkg for k in codes):
                    names.append(pkg)
                if multibuild:
                    names += sorted({k[1] for k in codes if k[0] == prj and k[1].startswith(pkg + ":")})
            lines.append("  <result %s>" % attrs)
            for name in names:
                pcode, pdetails = codes.get((prj, name, repo, arch), ("succeeded", None))
                if pdetails:
                    lines.append("    <status package=%s code=%s>\n      <details>%s</details>\n    </status>"
                                 % (quoteattr(name), quoteattr(pcode), escape(pdetails)))
                else:
                    lines.append("    <status package=%s code=%s/>" % (quoteattr(name), quoteattr(pcode)))
            lines.append("  </result>")
    body = "\n".join(lines)
    state = hashlib.md5(body.encode()).hexdigest()
    return '<resultlist state="%s">\n%s\n</resultlist>\n' % (state, body) if lines else '<resultlist state="%s"/>\n' % state


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.armed = []  # [kind, count, match, seconds]
        self.log = []

    def arm(self, kind, count, match, seconds):
        with self.lock:
            self.armed.append([kind, count, match, seconds])

    def take(self, path):
        with self.lock:
            for f in self.armed:
                if f[1] > 0 and f[2] in path:
                    f[1] -= 1
                    return f[0], f[3]
        return None, 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "obs-standin/1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("obs_server: " + fmt % args + "\n")

    # ---- plumbing ----
    def send(self, code, body, ctype="application/xml; charset=utf-8", headers=None, cut=False):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if cut:
            self.send_header("Connection", "close")
        self.end_headers()
        if cut:
            self.wfile.write(body[: max(1, len(body) // 2)])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            self.wfile.write(body)
        with self.server.faults.lock:
            self.server.faults.log.append("%s %s %d accept=%s" % (self.command, self.path, code, self.headers.get("Accept", "")))

    def error(self, code, obs_code, summary, headers=None):
        self.send(code, status_xml(obs_code, summary), headers=headers)

    def authorized(self):
        if self.server.user is None:
            return True
        h = self.headers.get("Authorization", "")
        if h.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
            except Exception:
                return False
            return user == self.server.user and pw == self.server.password
        return False

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # ---- dispatch ----
    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def handle_any(self, method):
        if method == "POST":
            self.body()
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]

        if parts[:1] == ["_fault"]:
            self.server.faults.arm(
                query.get("kind", ["500"])[0],
                int(query.get("count", ["1"])[0]),
                query.get("match", [""])[0],
                float(query.get("seconds", ["3"])[0]),
            )
            return self.send(200, status_xml("ok", "armed"))
        if parts[:1] == ["_results"] and method == "POST":
            q = lambda k: query.get(k, [None])[0]
            key = (q("project"), q("repository"), q("arch"))
            with self.server.results_lock:
                if q("repocode"):
                    self.server.repo_states[key] = (q("repocode"), q("details"), q("dirty") in ("1", "true"))
                else:
                    self.server.results[(key[0], q("package"), key[1], key[2])] = (q("code"), q("details"))
            return self.send(200, status_xml("ok", "set"))
        if parts[:1] == ["_log"]:
            with self.server.faults.lock:
                text = "\n".join(self.server.faults.log) + "\n"
            return self.send(200, text, ctype="text/plain")

        kind, seconds = self.server.faults.take(url.path)
        if kind == "slow":
            time.sleep(seconds)
        elif kind == "disconnect":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        elif kind in ("500", "503"):
            return self.error(int(kind), "internal_error" if kind == "500" else "service_unavailable",
                              "injected fault %s" % kind)

        if not self.authorized() and not url.path.startswith("/public/"):
            return self.error(401, "authentication_required", "Authentication required",
                              headers={"WWW-Authenticate": 'Basic realm="Use your developer account"'})

        code, body, ctype = self.route(method, parts, query)
        if kind == "malformed" and code == 200:
            body = body[: len(body) // 2]
        self.send(code, body, ctype=ctype, cut=(kind == "truncated"))

    def route(self, method, parts, query):
        projects = self.server.projects
        xml = "application/xml; charset=utf-8"
        text = "text/plain; charset=utf-8"
        if parts == ["configuration"]:
            return 200, self.server.configuration, xml
        if parts == ["public", "configuration"]:
            return 200, self.server.remote_configuration, xml
        if parts == ["about"]:
            return 200, "<about><title>Open Build Service</title><revision>2.10.0</revision></about>\n", xml
        if len(parts) == 4 and parts[0] == "source" and parts[3] == "_meta":
            meta = self.server.packages.get((parts[1], parts[2]))
            if meta is None:
                return 404, status_xml("unknown_package", "Package not found: %s/%s" % (parts[1], parts[2])), xml
            return 200, meta, xml
        if len(parts) == 3 and parts[0] == "source" and parts[2] in ("_meta", "_config"):
            prj = projects.get(parts[1])
            if prj is None:
                return 404, status_xml("unknown_project", "Project not found: %s" % parts[1]), xml
            if parts[2] == "_meta":
                return 200, prj["meta"], xml
            return 200, prj["config"], text
        if len(parts) == 3 and parts[0] == "build" and parts[2] == "_result" and method == "GET":
            if self.server.results_file is not None:
                with open(self.server.results_file, encoding="utf-8") as f:
                    return 200, f.read(), xml
            if parts[1] not in projects:
                return 404, status_xml("unknown_project", "Project not found: %s" % parts[1]), xml
            if self.server.old_results and ("multibuild" in query or "locallink" in query):
                return 400, status_xml("400", "unknown parameter 'multibuild'"), xml
            return 200, result_document(self.server, parts[1], query), xml
        if len(parts) >= 3 and parts[0] == "build":
            prj = projects.get(parts[1])
            if prj is None:
                return 404, status_xml("unknown_project", "Project not found: %s" % parts[1]), xml
            repo = parts[2]
            if repo_paths(prj["meta"], repo) is None:
                return 404, status_xml("unknown_repository", "Repository not found: %s/%s" % (parts[1], repo)), xml
            if len(parts) == 4 and parts[3] == "_buildconfig":
                return 200, combined_config(projects, parts[1], repo), text
            if len(parts) == 6 and parts[5] == "_buildinfo":
                info = data("buildinfo.xml")
                info = re.sub(r'^<buildinfo project="[^"]*" repository="[^"]*" package="[^"]*"',
                              '<buildinfo project="%s" repository="%s" package="%s"' % (parts[1], repo, parts[4]),
                              info, count=1)
                info = info.replace("<arch>i586</arch>", "<arch>%s</arch>" % parts[3], 1)
                return 200, info, xml
            if len(parts) == 5 and parts[4] == "_repository":
                binaries = query.get("binary", [])
                if query.get("view", [""])[0] == "cpio":
                    files = [(b + ".rpm", ("stand-in rpm %s for %s\n" % (b, parts[3])).encode()) for b in binaries]
                    return 200, cpio_newc(files), "application/x-cpio"
                return 200, data("repository_binarylist.xml"), xml
        return 404, status_xml("not_found", "No such route: /%s" % "/".join(parts)), xml


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # clients that hang up (timeouts, retries) are part of the tests, not errors
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="opensuse")
    ap.add_argument("--no-auth", action="store_true")
    ap.add_argument("--download-url", default="https://download.example.test/repositories")
    ap.add_argument("--lifetime", type=float, default=600.0, help="stop by itself after this many seconds")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--results", metavar="FILE", help="answer GET /build/<prj>/_result with this file's text")
    ap.add_argument("--old-results", action="store_true",
                    help="answer _result with multibuild= or locallink= with 400, as OBS before multibuild did")
    args = ap.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    own_url = "http://127.0.0.1:%d" % server.server_address[1]
    server.projects, server.configuration, server.remote_configuration = build_projects(args.download_url, own_url)
    matrix_projects, server.packages = matrix_fixtures()
    server.projects.update(matrix_projects)
    server.user = None if args.no_auth else args.user
    server.password = args.password
    server.faults = Faults()
    server.verbose = args.verbose
    server.results_file = args.results
    server.old_results = args.old_results
    server.results, server.repo_states = {}, {}
    server.results_lock = threading.Lock()
    timer = threading.Timer(args.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
