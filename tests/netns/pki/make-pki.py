#!/usr/bin/env python3
"""Makes the FAKE certificates tests/run_go.rs serves (python3 -m pip install cryptography).

    cd tests/netns/pki && python3 make-pki.py

root.pem          "modsniff test root (FAKE)": the only CA the go command is told to trust.
good.pem/.key     goproxy.test and 10.214.255.1: what a healthy self-hosted GOPROXY shows.
wrongname.pem     only other.test: go asked for goproxy.test.
noipsan.pem       only goproxy.test: go dialled https://10.214.255.1.
expired.pem       goproxy.test and 10.214.255.1, valid in 2024 only.

Every leaf is issued directly by the root and served with it as its chain. Nothing here is a
secret: these keys sign nothing but test traffic inside network namespaces.
"""

import datetime as dt
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

IP = "10.214.255.1"


def name(cn):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "modsniff tests (FAKE)"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def save(stem, cert, key):
    with open(f"{stem}.pem", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(f"{stem}.key", "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def main():
    t = lambda y, m=1, d=1: dt.datetime(y, m, d, tzinfo=dt.timezone.utc)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = name("modsniff test root (FAKE)")
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(t(2020))
        .not_valid_after(t(2050))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    with open("root.pem", "wb") as f:
        f.write(root.public_bytes(serialization.Encoding.PEM))

    def leaf(stem, sans, not_before, not_after):
        key = ec.generate_private_key(ec.SECP256R1())
        names = [
            x509.IPAddress(ipaddress.ip_address(s)) if s[0].isdigit() else x509.DNSName(s)
            for s in sans
        ]
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(next(s for s in sans if not s[0].isdigit())))
            .issuer_name(root_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                critical=False,
            )
            .sign(root_key, hashes.SHA256())
        )
        save(stem, cert, key)

    leaf("good", ["goproxy.test", IP], t(2024), t(2046))
    leaf("wrongname", ["other.test"], t(2024), t(2046))
    leaf("noipsan", ["goproxy.test"], t(2024), t(2046))
    leaf("expired", ["goproxy.test", IP], t(2024), t(2025))


if __name__ == "__main__":
    main()
