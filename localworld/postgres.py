"""A real PostgreSQL server for the local world and the tests, started from scratch on loopback.

    with PostgresServer() as pg:                      # initdb + start; stop + remove on exit
        pg.admin().run("CREATE ROLE web LOGIN PASSWORD 'secret'")
        pg.port, pg.admin_user, pg.admin_password     # 127.0.0.1 only, password (SCRAM) auth
        pg.ca_file                                    # the CA its TLS certificate chains to

    python -m localworld.postgres                     # start one and print how to reach it (Ctrl-C stops it)

- Binaries: ``SWITCHBOARD_PG_BIN`` if set, else ``/usr/lib/postgresql/15/bin`` (or the newest version there).
- ``initdb`` refuses to run as root, and so do ``pg_ctl`` and ``postgres``: when this process is root, they run as
  the ``postgres`` system user, in a temporary directory that user owns (no ``runuser``/``sudo`` needed).
- The server listens on 127.0.0.1 only, on a free port (another one is tried if it was taken in between), with no
  Unix socket. ``pg_hba.conf`` allows SCRAM-SHA-256 password logins from 127.0.0.1 and nothing else.
- The bootstrap superuser is the admin role, with a random password.
- TLS: at start it makes its own CA and a server certificate for ``127.0.0.1`` (``cryptography``;
  keys never leave the server's directory), so clients verify it as they would Amazon RDS's (``tls:
  verify-full``): ``ca_file`` is the CA's certificate, and ``connect()`` verifies against it. Plain connections
  stay allowed, for ``tls: disable``.
- ``stop()`` shuts the server down and removes the directory. If this process dies without stopping it (killed,
  out of memory), a small watchdog process notices its end (its stdin pipe closes) and does the same, so nothing
  outlives a test run or a demo.
"""

from __future__ import annotations

import argparse
import atexit
import os
import pwd
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from localworld.emulator import free_port

DEFAULT_BIN = Path("/usr/lib/postgresql/15/bin")
ADMIN_USER = "switchboard_admin"
_HBA = """\
# Written by localworld/postgres.py: password (SCRAM) logins over TCP from loopback, nothing else.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  reject
host    all       all   127.0.0.1/32   scram-sha-256
"""
_CONF = """
# ---- localworld/postgres.py: a throwaway server on loopback ----
listen_addresses = '127.0.0.1'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
unix_socket_directories = ''
password_encryption = 'scram-sha-256'
max_connections = 40
shared_buffers = '32MB'
fsync = off
synchronous_commit = off
full_page_writes = off
"""


class PostgresError(RuntimeError):
    pass


def find_bin() -> Path:
    """Where initdb, pg_ctl and postgres live."""
    configured = os.environ.get("SWITCHBOARD_PG_BIN")
    candidates = [Path(configured)] if configured else [DEFAULT_BIN]
    if not configured:
        versions = sorted((p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()),
                          key=lambda p: int(p.parent.name), reverse=True)
        candidates += [p for p in versions if int(p.parent.name) >= 15]
    for path in candidates:
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
            return path
    raise PostgresError(f"no PostgreSQL 15+ binaries in {', '.join(map(str, candidates))} "
                        "(install postgresql-15 or set SWITCHBOARD_PG_BIN)")


class _Owner:
    """Who runs the server's programs: this process's user, or `postgres` when this process is root."""

    def __init__(self) -> None:
        self.root = os.geteuid() == 0
        if self.root:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresError("running as root, but there is no 'postgres' system user to run initdb as "
                                    "(initdb refuses root)") from None
            self.uid, self.gid, self.name = entry.pw_uid, entry.pw_gid, "postgres"
        else:
            self.uid, self.gid, self.name = os.geteuid(), os.getegid(), pwd.getpwuid(os.geteuid()).pw_name

    def popen_kwargs(self) -> dict[str, Any]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
        kwargs: dict[str, Any] = {"env": env}
        if self.root:
            kwargs.update(user=self.uid, group=self.gid, extra_groups=[])
        return kwargs

    def run(self, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL, **self.popen_kwargs())

    def own(self, path: Path) -> None:
        if self.root:
            os.chown(path, self.uid, self.gid)


def _base_dir(owner: _Owner) -> str | None:
    """A parent directory the server's user can reach (TMPDIR may be root's own, mode 0700)."""
    if owner.root and Path("/tmp").is_dir():  # noqa: S108 - a private 0700 directory is created inside
        return "/tmp"  # noqa: S108
    return None


class PostgresServer:
    def __init__(self, bin_dir: Path | None = None, admin_user: str = ADMIN_USER, start_timeout: float = 60.0):
        self.bin = bin_dir or find_bin()
        self.admin_user = admin_user
        self.admin_password = secrets.token_urlsafe(24)
        self.host = "127.0.0.1"
        self.port = 0
        self.start_timeout = start_timeout
        self.dir: Path | None = None
        self._owner = _Owner()
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._running = False

    # ---- lifecycle ----

    @property
    def data(self) -> Path:
        assert self.dir is not None
        return self.dir / "data"

    @property
    def ca_file(self) -> Path:
        """The certificate of the CA this server's certificate was made with (what a client trusts)."""
        assert self.dir is not None
        return self.dir / "ca.crt"

    @property
    def log_file(self) -> Path:
        assert self.dir is not None
        return self.dir / "server.log"

    def start(self) -> PostgresServer:
        if self._running:
            return self
        owner = self._owner
        self.dir = Path(tempfile.mkdtemp(prefix="switchboard-pg-", dir=_base_dir(owner)))
        os.chmod(self.dir, 0o700)
        owner.own(self.dir)
        self._spawn_watchdog()
        atexit.register(self.stop)
        try:
            self._initdb()
            self._start_on_a_free_port()
        except BaseException:
            self.stop()
            raise
        self._running = True
        return self

    def _initdb(self) -> None:
        owner, pwfile = self._owner, self.dir / "pwfile"  # type: ignore[operator]
        pwfile.write_text(self.admin_password + "\n")
        os.chmod(pwfile, 0o600)
        owner.own(pwfile)
        done = owner.run([str(self.bin / "initdb"), "-D", str(self.data), "-U", self.admin_user,
                          f"--pwfile={pwfile}", "--auth-local=reject", "--auth-host=scram-sha-256",
                          "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"])
        pwfile.unlink()
        if done.returncode != 0:
            raise PostgresError(f"initdb failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-800:]}")
        (self.data / "pg_hba.conf").write_text(_HBA)
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(_CONF)
        self._certificates()

    def _certificates(self) -> None:
        """A CA, and a certificate it signs for 127.0.0.1 (the server's key readable by it only)."""
        ca_pem, cert_pem, key_pem = make_certificates(self.host)
        self.ca_file.write_bytes(ca_pem)
        os.chmod(self.ca_file, 0o644)
        for name, data, mode in (("server.crt", cert_pem, 0o644), ("server.key", key_pem, 0o600)):
            path = self.data / name
            path.write_bytes(data)
            os.chmod(path, mode)
            self._owner.own(path)

    def _start_on_a_free_port(self, attempts: int = 5) -> None:
        last = ""
        for _ in range(attempts):
            self.port = free_port()
            done = self._owner.run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_file),
                                    "-o", f"-p {self.port}", "-w", "-t", str(int(self.start_timeout)), "start"],
                                   timeout=self.start_timeout + 30)
            if done.returncode == 0:
                return
            last = self._log_tail()
            if "could not bind" not in last and "Address already in use" not in last:
                break
        raise PostgresError(f"PostgreSQL did not start: {last or 'no log'}")

    def _log_tail(self, chars: int = 800) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:].strip()
        except OSError:
            return ""

    def stop(self) -> None:
        """Shut the server down and remove its directory. Safe to call twice, and at exit."""
        self._running = False
        if self.dir is not None and self.dir.exists():
            _shutdown(self._owner, self.bin, self.data)
            shutil.rmtree(self.dir, ignore_errors=True)
        if self._watchdog is not None:
            if self._watchdog.stdin:
                self._watchdog.stdin.close()
            try:
                self._watchdog.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
            self._watchdog = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn_watchdog(self) -> None:
        # Its own session: a Ctrl-C meant for us must not kill it before we have cleaned up.
        self._watchdog = subprocess.Popen(
            [sys.executable, "-m", "localworld.postgres", "--watchdog", str(self.dir), "--bin", str(self.bin)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            cwd=str(Path(__file__).resolve().parent.parent))

    # ---- using it ----

    @property
    def running(self) -> bool:
        return self._running

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies this server's certificate and host name (as ``tls: verify-full`` does)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def connect(self, user: str, password: str, database: str = "postgres") -> Any:
        """A connection over TLS, the server verified (as an application should)."""
        import pg8000.native

        return pg8000.native.Connection(user, host=self.host, port=self.port, password=password,
                                        database=database, timeout=10, ssl_context=self.ssl_context())

    def admin(self, database: str = "postgres") -> Any:
        return self.connect(self.admin_user, self.admin_password, database)

    def create_database(self, name: str, owner: str | None = None) -> None:
        from pg8000.native import identifier

        conn = self.admin()
        try:
            conn.run(f"CREATE DATABASE {identifier(name)}" + (f" OWNER {identifier(owner)}" if owner else ""))
        finally:
            conn.close()


def make_certificates(host: str, days: int = 30) -> tuple[bytes, bytes, bytes]:
    """(CA certificate, server certificate, server key), PEM: a throwaway CA and a certificate it signs for
    ``host`` (an IP address or a name), and nothing else."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Switchboard local world CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    try:
        names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(host))]
    except ValueError:
        names = [x509.DNSName(host)]
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return (ca.public_bytes(pem), cert.public_bytes(pem),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _postmaster_pid(data: Path) -> int | None:
    try:
        first = (data / "postmaster.pid").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(first) if re.fullmatch(r"[0-9]+", first.strip()) else None


def _shutdown(owner: _Owner, bin_dir: Path, data: Path) -> None:
    if _postmaster_pid(data) is None:
        return
    for mode in ("fast", "immediate"):
        done = owner.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", mode, "-w", "-t", "20", "stop"], timeout=40)
        if done.returncode == 0 or _postmaster_pid(data) is None:
            return
    pid = _postmaster_pid(data)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _watchdog(directory: str, bin_dir: str) -> int:
    """Wait for the starting process to end (stdin closes), then make sure the server is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass
    path = Path(directory)
    if path.exists():
        _shutdown(_Owner(), Path(bin_dir), path / "data")
        shutil.rmtree(path, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localworld.postgres", description=__doc__.splitlines()[0])
    parser.add_argument("--watchdog", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--bin", help="directory of initdb/pg_ctl (default: found automatically)")
    args = parser.parse_args(argv)
    if args.watchdog:
        return _watchdog(args.watchdog, args.bin)
    with PostgresServer(Path(args.bin) if args.bin else None) as pg:
        print(f"PostgreSQL on {pg.host}:{pg.port}  admin {pg.admin_user} / {pg.admin_password}  TLS CA {pg.ca_file}  "
              "(Ctrl-C stops it)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
