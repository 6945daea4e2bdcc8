"""Mutual TLS (README §2) over loopback: the client presents its certificate and trusts only the
pinned CA; a server that demands a certificate refuses a client without one (no HTTP status)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters._simulators.http import HttpSimulator
from adapters._transports.http import HttpTransport
from adapters.health.simulator import HealthApi
from adapters.health.transport import RateGate, open_transport, tls_context
from adapters.health.wire import cases_request
from runner.adapter_api import TransientError
from tests.adapters.health.samples import config

NOW = dt.datetime.now(dt.UTC)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    ip: bool = False,
) -> x509.Certificate:
    signer_name, signer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(signer_key, hashes.SHA256())


def _write(
    folder: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("FJWJW Root CA G2", ca_key, None, ca=True)
    server_key, client_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    server = _issue("127.0.0.1", server_key, (ca.subject, ca_key), ip=True)
    client = _issue("fjzf-esb", client_key, (ca.subject, ca_key))
    paths = {"ca": _write(folder, "ca", ca, ca_key)[0]}
    paths["server_cert"], paths["server_key"] = _write(folder, "server", server, server_key)
    paths["client_cert"], paths["client_key"] = _write(folder, "client", client, client_key)
    return paths


@pytest.fixture
def tls_server(pki: dict[str, Path]) -> Iterator[HttpSimulator]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki["server_cert"], pki["server_key"])
    context.load_verify_locations(pki["ca"])
    context.verify_mode = ssl.CERT_REQUIRED
    simulator = HttpSimulator(HealthApi(per_second=1000).handle)
    simulator._server.socket = context.wrap_socket(simulator._server.socket, server_side=True)
    with simulator:
        yield simulator


def _https(simulator: HttpSimulator) -> str:
    return simulator.url.replace("http://", "https://")


def test_the_tls_context_pins_the_ca_and_speaks_tls_12_or_newer(pki: dict[str, Path]):
    settings = config(
        client_cert=pki["client_cert"], client_key=pki["client_key"], ca_file=pki["ca"]
    )
    context = tls_context(settings)
    assert context is not None
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert tls_context(config()) is None


def test_a_client_with_its_certificate_reads_a_page_over_mutual_tls(
    pki: dict[str, Path], tls_server: HttpSimulator
):
    settings = config(
        _https(tls_server),
        client_cert=pki["client_cert"],
        client_key=pki["client_key"],
        ca_file=pki["ca"],
    )
    with closing(open_transport(settings, RateGate())) as connection:
        answer = connection.send(cases_request(settings, 0, 0))
    assert answer.meta["status"] == "200"


def test_a_client_without_a_certificate_is_refused_in_the_handshake(
    pki: dict[str, Path], tls_server: HttpSimulator
):
    trusting = ssl.create_default_context(cafile=str(pki["ca"]))  # trusts the CA, no certificate
    settings = config(_https(tls_server))
    transport = HttpTransport("health", _https(tls_server), verify=trusting)  # type: ignore[arg-type]
    with closing(transport), pytest.raises(TransientError) as caught:
        transport.send(cases_request(settings, 0, 0))
    assert caught.value.code == "CONNECTION"
