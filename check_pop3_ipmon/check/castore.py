"""The system's CA store for a verified handshake, read only as far as it needs.

`ssl.create_default_context()` gives OpenSSL its default locations: a CA file
(SSL_CERT_FILE, else the built-in one, on Debian /usr/lib/ssl/cert.pem), which
OpenSSL parses whole up front (144 certificates on Debian 12, 20-35 ms of a
check that needs one of them), and a CA directory (SSL_CERT_DIR, else the
built-in /usr/lib/ssl/certs) that it searches by subject hash during the
handshake, reading only the issuer a chain needs.

Where the file is that directory's own bundle, as Debian's and Ubuntu's
update-ca-certificates make it (it links each certificate it writes into the
bundle into the directory, then runs `openssl rehash`), the directory alone
trusts the same certificates, and the file is left out. Anywhere else (a file
elsewhere, as on Fedora; a bundle holding more certificates than the directory
has hash links; SSL_CERT_URI set) the file is loaded as before.
"""

from __future__ import annotations

import os
import ssl
import sys

_BEGIN = b"-----BEGIN CERTIFICATE-----"


def _setting(variable: str, default: str) -> str:
    """OpenSSL's rule: the environment variable when set (even empty), else the built-in path."""
    value = os.environ.get(variable)
    return default if value is None else value


def _hash_links(directory: str) -> int:
    """Entries named like `openssl rehash` names certificates: 8 hex digits, '.', a number."""
    count = 0
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                name = entry.name
                if len(name) > 9 and name[8] == "." and name[9:].isdigit():
                    try:
                        int(name[:8], 16)
                    except ValueError:
                        continue
                    count += 1
    except OSError:
        return 0
    return count


def bundled_in(ca_file: str, ca_dirs: str) -> bool:
    """Whether `ca_file` is the bundle of one of the hashed directories `ca_dirs`
    (':'-separated, as OpenSSL reads SSL_CERT_DIR): it lies in that directory,
    which has a hash link for each certificate the bundle holds."""
    home = os.path.dirname(os.path.realpath(ca_file))
    for directory in ca_dirs.split(os.pathsep):
        if directory and os.path.realpath(directory) == home:
            try:
                with open(ca_file, "rb") as bundle:
                    certificates = bundle.read().count(_BEGIN)
            except OSError:
                return False
            return 0 < certificates <= _hash_links(directory)
    return False


def system_context() -> ssl.SSLContext:
    """ssl.create_default_context() with the same trust, minus parsing a bundle
    that the hashed directory already serves."""
    paths = ssl.get_default_verify_paths()
    ca_file = _setting(paths.openssl_cafile_env, paths.openssl_cafile)
    ca_dirs = _setting(paths.openssl_capath_env, paths.openssl_capath)
    if not ca_dirs or "SSL_CERT_URI" in os.environ or sys.platform == "win32":
        # No directory to search (OpenSSL then ignores an empty SSL_CERT_DIR
        # too), a store URI that only OpenSSL's own defaults read, or Windows,
        # whose system store Python reads itself.
        return ssl.create_default_context()
    # Same settings as create_default_context() (hostname check, Python 3.13's
    # strict flags, SSLKEYLOGFILE), with the directory as the only location.
    context = ssl.create_default_context(capath=ca_dirs)
    if ca_file and not bundled_in(ca_file, ca_dirs):
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError):
            pass  # OpenSSL's defaults skip a missing or unreadable file alike
    return context
