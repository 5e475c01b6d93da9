"""Webhooks (issue 17): signed per Standard Webhooks (checked with that project's own library),
written with the change, retried until the receiver is back, in order per case, never to a
private address outside development, and a sub-customer's never carry the provider or notes."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from api import webhook_sender
from api.models import ApiKey, DeliveryStatus, WebhookDelivery, WebhookSubscription
from helpdesk import services
from helpdesk.models import Case, Severity
from tenants.models import Role, Tenant
from tests import factories
from tests.factories import member

pytestmark = pytest.mark.django_db


class Receiver:
    """A webhook receiver on loopback that records what it gets."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[str]:
        return [json.loads(body)["type"] for _, body in self.received]


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    found = Receiver()
    yield found
    found.stop()


def api_as(user) -> APIClient:
    _, token = ApiKey.issue(user=user, name="hooks")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def subscribe(user, url: str, events: list[str] | None = None) -> dict:
    response = api_as(user).post(
        reverse("api:webhooks"), {"url": url, "events": events or []}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def open_case(tenant_slug: str, person, severity=Severity.MAJOR) -> Case:
    tenant = Tenant.objects.get(slug=tenant_slug)
    return factories.open_case(
        tenant, person, severity, subject="Trunk down", description="No calls"
    )


def test_deliveries_are_signed_per_standard_webhooks(
    demo, receiver, django_capture_on_commit_callbacks
) -> None:
    hook = subscribe(demo["bob"], receiver.url)
    assert hook["secret"].startswith("whsec_")
    with django_capture_on_commit_callbacks(execute=True):
        case = open_case("acme", demo["ann"])
    assert receiver.events() == ["case.opened"]
    headers, body = receiver.received[0]
    payload = Webhook(hook["secret"]).verify(body, headers)
    assert payload["data"]["reference"] == case.reference
    with pytest.raises(Exception, match="signature"):
        Webhook(hook["secret"]).verify(body.replace("Trunk", "Trank"), headers)
    # The secret is shown once: listing does not repeat it.
    listed = api_as(demo["bob"]).get(reverse("api:webhooks")).json()
    assert "secret" not in listed[0]


def test_a_rotation_signs_with_both_secrets(demo, receiver, django_capture_on_commit_callbacks):
    hook = subscribe(demo["bob"], receiver.url)
    rotated = api_as(demo["bob"]).post(reverse("api:webhook-rotate", args=[hook["id"]])).json()
    assert rotated["secret"] != hook["secret"]
    with django_capture_on_commit_callbacks(execute=True):
        open_case("acme", demo["ann"])
    headers, body = receiver.received[0]
    Webhook(hook["secret"]).verify(body, headers)
    Webhook(rotated["secret"]).verify(body, headers)


def test_events_follow_the_case(demo, receiver, django_capture_on_commit_callbacks) -> None:
    subscribe(demo["bob"], receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        case = open_case("acme", demo["ann"])
    with django_capture_on_commit_callbacks(execute=True):
        services.update_add(case=case, author=demo["alice"], body="Looking into it")
    with django_capture_on_commit_callbacks(execute=True):
        services.update_add(case=case, author=demo["alice"], body="Staff only", internal=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_change_severity(
            case=case, actor=demo["ann"], severity=Severity.MINOR, reason="Workaround found"
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.case_change_status(case=case, actor=demo["ann"], status="resolved")
    assert receiver.events() == [
        "case.opened",
        "case.updated",  # the public reply; the provider's internal note is not sent
        "case.severity_changed",
        "case.status_changed",
        "case.resolved",
    ]


def test_a_sub_customer_hears_no_provider_and_no_notes(
    demo, receiver, django_capture_on_commit_callbacks
) -> None:
    initech = Tenant.objects.get(slug="initech")
    iris = member(initech, Role.ADMIN, email="iris@initech.test")
    subscribe(iris, receiver.url)
    subscribe(demo["rita"], receiver.url + "/reseller")
    with django_capture_on_commit_callbacks(execute=True):
        case = open_case("initech", demo["ivan"])
    with django_capture_on_commit_callbacks(execute=True):
        services.update_add(case=case, author=demo["rob"], body="Reseller note", internal=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_escalate(case=case, actor=demo["rob"], note="Please look")
    customer = [json.loads(b) for h, b in receiver.received]
    # Split by the tenant each payload was for: the reseller's payloads carry the tier.
    own = [p for p in customer if "tier" not in p["data"]]
    reseller = [p for p in customer if "tier" in p["data"]]
    assert [p["type"] for p in own] == ["case.opened"]
    assert "Phonism" not in json.dumps(own)
    assert [p["type"] for p in reseller] == [
        "case.opened",
        "case.updated",
        "case.updated",
        "case.escalated",
    ]
    assert reseller[1]["data"]["update"]["visibility"] == "reseller_note"


def test_a_receiver_that_is_down_gets_every_event_once_in_order_when_back(
    demo, settings, django_capture_on_commit_callbacks
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    down = Receiver()
    url = down.url
    down.stop()  # nothing listens on that port now
    hook = subscribe(demo["bob"], url)
    with django_capture_on_commit_callbacks(execute=True):
        case = open_case("acme", demo["ann"])
    with django_capture_on_commit_callbacks(execute=True):
        services.update_add(case=case, author=demo["alice"], body="On it")
    first, second = WebhookDelivery.objects.order_by("id")
    first.refresh_from_db()
    assert first.status == DeliveryStatus.PENDING and first.attempts == 1
    assert "Connection refused" in first.last_error or "Errno" in first.last_error
    assert second.attempts == 0  # waits for the earlier event of the same case
    back = Receiver()
    WebhookSubscription.objects.filter(pk=hook["id"]).update(url=back.url)
    try:
        with time_machine.travel(timezone.now() + timedelta(minutes=5)):
            for pk in webhook_sender.due_ids():
                webhook_sender.deliver(pk)
            for pk in webhook_sender.due_ids():  # a second drain finds nothing left
                webhook_sender.deliver(pk)
        assert back.events() == ["case.opened", "case.updated"]
        assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    finally:
        back.stop()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "ftp://example.com/hook",
    ],
)
def test_private_and_loopback_targets_are_refused(demo, settings, url) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = api_as(demo["bob"]).post(reverse("api:webhooks"), {"url": url}, format="json")
    assert response.status_code == 400
    assert "url" in response.json()
    assert not WebhookSubscription.objects.exists()


def test_a_target_that_turned_private_is_refused_at_sending(
    demo, settings, django_capture_on_commit_callbacks
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    WebhookSubscription.objects.create(
        tenant=Tenant.objects.get(slug="acme"), url="http://127.0.0.1:9/hook", events=""
    )
    with django_capture_on_commit_callbacks(execute=True):
        open_case("acme", demo["ann"])
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert "non-public" in delivery.last_error


def test_only_admins_manage_webhooks_and_only_their_own(demo, settings) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    hook = subscribe(demo["bob"], "http://127.0.0.1:9/x")
    assert api_as(demo["ann"]).get(reverse("api:webhooks")).status_code == 404
    rita = api_as(demo["rita"])
    assert rita.delete(reverse("api:webhook-detail", args=[hook["id"]])).status_code == 404
    assert rita.post(reverse("api:webhook-rotate", args=[hook["id"]])).status_code == 404
    assert WebhookSubscription.objects.filter(pk=hook["id"]).exists()


class Resolver:
    """``socket.getaddrinfo`` for one name, answering from a script (the last answer repeats):
    what a rebinding attacker's DNS server does. Other names resolve as usual."""

    def __init__(self, monkeypatch, name: str, answers: list[str]) -> None:
        self.name, self.answers, self.asked = name, answers, 0
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            if host != self.name:
                return real(host, port, *args, **kwargs)
            address = self.answers[min(self.asked, len(self.answers) - 1)]
            self.asked += 1
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def connections(monkeypatch) -> list[tuple[str, int]]:
    """Every address a connection is opened to (a name given is looked up, as the real
    function does). Loopback ones are really made (where the receiver listens); a public one
    is refused at once, as an unreachable host would be."""
    made: list[tuple[str, int]] = []
    real = socket.create_connection

    def create_connection(address, *args, **kwargs):
        host, port = address
        # As the real one does, a name is looked up (again) here.
        host = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)[0][4][0]
        made.append((host, port))
        if not host.startswith("127."):
            raise ConnectionRefusedError(f"{host} refused (test)")
        return real((host, port), *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return made


PUBLIC = "93.184.216.34"


def test_a_name_rebound_to_loopback_after_the_check_reaches_nothing_private(
    demo, settings, monkeypatch, connections, django_capture_on_commit_callbacks
) -> None:
    """Public to the check, loopback to any later lookup: the connection goes to the checked
    public address, never to a second answer."""
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    inside = Receiver()  # what the attacker aims at: a service on the sender's loopback
    try:
        port = inside.server.server_port
        resolver = Resolver(monkeypatch, "hooks.rebind.example", [PUBLIC, PUBLIC, "127.0.0.1"])
        subscribe(demo["bob"], f"http://hooks.rebind.example:{port}/hook")  # checked: public
        with django_capture_on_commit_callbacks(execute=True):
            open_case("acme", demo["ann"])
        delivery = WebhookDelivery.objects.get()
        assert connections == [(PUBLIC, port)]
        assert inside.received == []
        assert resolver.asked == 2  # one lookup when subscribing, one for the attempt
        assert delivery.status == DeliveryStatus.PENDING  # unreachable: tried again later
        assert "ConnectionRefusedError" in delivery.last_error
    finally:
        inside.stop()


def test_a_name_that_resolves_to_loopback_at_sending_is_refused_without_connecting(
    demo, settings, monkeypatch, connections, django_capture_on_commit_callbacks
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    inside = Receiver()
    try:
        port = inside.server.server_port
        Resolver(monkeypatch, "hooks.rebind.example", [PUBLIC, "127.0.0.1"])
        subscribe(demo["bob"], f"http://hooks.rebind.example:{port}/hook")
        with django_capture_on_commit_callbacks(execute=True):
            open_case("acme", demo["ann"])
        delivery = WebhookDelivery.objects.get()
        assert connections == []
        assert inside.received == []
        assert delivery.status == DeliveryStatus.FAILED
        assert "non-public address (127.0.0.1)" in delivery.last_error
    finally:
        inside.stop()


def test_the_pinned_connection_still_names_the_host(
    demo, receiver, monkeypatch, connections, django_capture_on_commit_callbacks
) -> None:
    """In development (private targets allowed) the one lookup is used too, and the receiver
    sees the URL's host name, not the address."""
    port = receiver.server.server_port
    Resolver(monkeypatch, "hooks.dev.example", ["127.0.0.1"])
    subscribe(demo["bob"], f"http://hooks.dev.example:{port}/hook?team=noc")
    with django_capture_on_commit_callbacks(execute=True):
        open_case("acme", demo["ann"])
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED
    headers, _ = receiver.received[0]
    assert headers["host"] == f"hooks.dev.example:{port}"
    assert connections == [("127.0.0.1", port)]


def _certificate(name: str, folder) -> tuple[str, str]:
    """A self-signed certificate for ``name``: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


@pytest.mark.parametrize("certified", ["hooks.tls.example", "someone-else.example"])
def test_https_goes_to_the_checked_address_with_the_name_for_sni_and_the_certificate(
    demo,
    settings,
    monkeypatch,
    connections,
    tmp_path,
    certified,
    django_capture_on_commit_callbacks,
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    cert_file, key_file = _certificate(certified, tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    names: list[str | None] = []
    server_context.sni_callback = lambda sock, name, context: names.append(name)
    receiver = Receiver()
    receiver.server.socket = server_context.wrap_socket(receiver.server.socket, server_side=True)
    monkeypatch.setattr(
        webhook_sender, "tls_context", lambda: ssl.create_default_context(cafile=cert_file)
    )
    try:
        port = receiver.server.server_port
        Resolver(monkeypatch, "hooks.tls.example", ["127.0.0.1"])
        subscribe(demo["bob"], f"https://hooks.tls.example:{port}/hook")
        with django_capture_on_commit_callbacks(execute=True):
            open_case("acme", demo["ann"])
        delivery = WebhookDelivery.objects.get()
        assert connections == [("127.0.0.1", port)]
        if certified == "hooks.tls.example":
            assert delivery.status == DeliveryStatus.DELIVERED, delivery.last_error
            assert names == ["hooks.tls.example"]
            assert receiver.received[0][0]["host"] == f"hooks.tls.example:{port}"
        else:  # a certificate for another name is refused: checked against the URL's name
            assert delivery.status == DeliveryStatus.PENDING
            assert "CERTIFICATE_VERIFY_FAILED" in delivery.last_error
            assert receiver.received == []
    finally:
        receiver.stop()


def test_staff_subscribe_an_address_typed_without_scheme_over_https_to_every_event(
    client, demo, settings
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = True  # 127.0.0.1: no lookup of a public name needed
    from tests.conftest import sign_in  # noqa: PLC0415

    sign_in(client, demo["admin"])
    acme = Tenant.objects.get(slug="acme")
    response = client.post(
        reverse("admin:api_webhooksubscription_add"),
        {"tenant": acme.pk, "url": "127.0.0.1:9/hook", "events": "", "is_active": "on"},
    )
    assert response.status_code == 302, response.content.decode()
    subscription = WebhookSubscription.objects.get(tenant=acme)
    assert subscription.url == "https://127.0.0.1:9/hook"
    assert subscription.wants("case.opened")  # no event named: every event (it was refused)
