"""``python manage.py widget_token EMAIL`` prints a token the widget accepts."""

from __future__ import annotations

import pytest
from django.core.management import ManagementUtility

from tests.widget.conftest import RESELLER_HOST
from widget import services
from widget.tokens import verify

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch) -> None:
    # run_from_argv closes every connection when it ends, which on PostgreSQL would end the
    # test's transaction; the command itself runs exactly as from the shell.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)


def from_the_shell(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        ManagementUtility(["manage.py", "widget_token", *args]).execute()
        raise SystemExit(0)
    captured = capsys.readouterr()
    return exit_.value.code, captured.out, captured.err


def test_it_prints_a_token_that_opens_the_widget(cast, capsys, client) -> None:
    code, out, err = from_the_shell(capsys, "Ann@Acme.test")
    assert (code, err) == (0, "")
    token = out.strip()
    claims = verify(token)
    assert (claims.email, claims.key) == ("ann@acme.test", cast.acme_key)
    response = client.post(
        "/widget/start/", {"token": token}, HTTP_ORIGIN="https://portal.acme.example"
    )
    assert response.status_code == 302


def test_a_sub_customers_token_is_signed_with_the_resellers_key(cast, capsys) -> None:
    code, out, _ = from_the_shell(capsys, "ivan@initech.test", "--lifetime", "600")
    claims = verify(out.strip())
    assert claims.key == cast.voicehub_key
    session = services.session_start(token=out.strip(), origin=RESELLER_HOST).session
    assert session.tenant == cast.initech


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody@example.test"], "is not an agent of any organisation"),
        (["ann@acme.test", "--lifetime", "601"], "--lifetime must be 1 to 600"),
        (["ann@acme.test", "--kid", "wk_none"], "No valid widget key signs for Acme"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(cast, capsys, args, message) -> None:
    code, out, err = from_the_shell(capsys, *args)
    assert code != 0 and out == ""
    assert err.strip().count("\n") == 0 and message in err
