"""What the stand-in OBS servers (obs_server.py, build_server.py) share: OBS's cpio
archives of binaries (view=cpio) and its <status> error documents."""


def cpio_newc(files):
    """A cpio archive (newc) of [(name, bytes)], as OBS sends with view=cpio."""
    out = bytearray()

    def entry(name, body, mode):
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join("%08X" % v for v in (0, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(nb), 0))
        out.extend(hdr.encode())
        out.extend(nb)
        out.extend(b"\0" * ((4 - (110 + len(nb)) % 4) % 4))
        out.extend(body)
        out.extend(b"\0" * ((4 - len(body) % 4) % 4))

    for name, body in files:
        entry(name, body, 0o100644)
    entry("TRAILER!!!", b"", 0)
    return bytes(out)


def status_xml(code, summary):
    return '<status code="%s">\n  <summary>%s</summary>\n</status>\n' % (code, summary)
