"""The standalone controller's credentials: a private CA, a server certificate for 127.0.0.1 /
localhost signed by it, and a bearer token. Keys and the token are 0600, their directory 0700.

An existing CA is kept (kubeconfigs embed it); the server certificate is re-issued when it is
missing, unreadable, close to expiry or not signed by the current CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVER_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class PKI:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path

    def ca_pem(self) -> bytes:
        return self.ca_cert.read_bytes()


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with 0600 from the start (never world-readable, even briefly)."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def ensure_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _new_ca(pki: PKI) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "virtctl-local-ca")])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write_private(pki.ca_key, _key_pem(key))
    _write_private(pki.ca_cert, cert.public_bytes(serialization.Encoding.PEM))


def _server_cert_ok(pki: PKI, ca: x509.Certificate) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
        serialization.load_pem_private_key(pki.server_key.read_bytes(), None)
    except (OSError, ValueError):
        return False
    if cert.issuer != ca.subject or cert.not_valid_after_utc - _now() < RENEW_BEFORE:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except Exception:
        return False
    return True


def _new_server_cert(pki: PKI, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                       x509.IPAddress(ipaddress.ip_address("::1"))])
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "virtctl-local-apiserver")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
            .add_extension(san, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_private(pki.server_key, _key_pem(key))
    _write_private(pki.server_cert, cert.public_bytes(serialization.Encoding.PEM))


def ensure_pki(pki_dir: Path) -> PKI:
    """The CA and a valid server certificate under ``pki_dir`` (created as needed)."""
    pki_dir = Path(pki_dir)
    ensure_private_dir(pki_dir)
    pki = PKI(pki_dir / "ca.crt", pki_dir / "ca.key", pki_dir / "server.crt", pki_dir / "server.key")
    try:
        ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
        ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
        if ca.not_valid_after_utc - _now() < RENEW_BEFORE:
            raise ValueError("CA about to expire")
    except (OSError, ValueError):
        _new_ca(pki)
        ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
        ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
    if not _server_cert_ok(pki, ca):
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        _new_server_cert(pki, ca, ca_key)
    return pki


def ensure_token(path: Path) -> str:
    """The bearer token (generated once, 0600)."""
    path = Path(path)
    try:
        token = path.read_text().strip()
        if token:
            os.chmod(path, 0o600)
            return token
    except OSError:
        pass
    ensure_private_dir(path.parent)
    token = secrets.token_urlsafe(32)
    _write_private(path, (token + "\n").encode())
    return token
