"""Brands and host names are validated where staff edit them (SPEC §8, §10 upload limits)."""

import io
import os

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms import modelform_factory
from PIL import Image

from tenants.brand_models import LOGO_MAX_BYTES
from tenants.colours import contrast_ratio
from tenants.models import Brand, BrandDomain, Tenant, TenantKind
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

BrandForm = modelform_factory(
    Brand, fields=["tenant", "name", "logo", "primary_colour", "text_colour", "support_email"]
)


def image(fmt: str = "PNG", size: tuple[int, int] = (120, 40), noise: bool = False) -> bytes:
    picture = Image.new("RGB", size, "#5b21b6")
    if noise:  # incompressible pixels make a large file
        picture = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def reseller(db) -> Tenant:
    return TenantFactory(name="CallCo", slug="callco", kind=TenantKind.RESELLER)


def submit(reseller: Tenant, logo: SimpleUploadedFile | None = None, **fields) -> BrandForm:
    data = {
        "tenant": reseller.pk,
        "name": "CallCo",
        "primary_colour": "#5b21b6",
        "text_colour": "#ffffff",
        "support_email": "help@callco.test",
        **fields,
    }
    return BrandForm(data, {"logo": logo} if logo else {})


def test_a_png_jpeg_or_webp_logo_is_accepted(reseller, tmp_path) -> None:
    for fmt, name in [("PNG", "logo.png"), ("JPEG", "logo.jpg"), ("WEBP", "logo.webp")]:
        Brand.objects.filter(tenant=reseller).delete()
        form = submit(reseller, SimpleUploadedFile(name, image(fmt)))
        assert form.is_valid(), form.errors
        assert form.save().logo.name.startswith("brands/callco/")


def test_a_text_file_named_png_is_refused(reseller) -> None:
    form = submit(reseller, SimpleUploadedFile("logo.png", b"not an image at all"))
    assert not form.is_valid()
    assert "logo" in form.errors


def test_an_svg_is_refused_and_the_error_says_why(reseller) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    form = submit(reseller, SimpleUploadedFile("logo.svg", svg, "image/svg+xml"))
    assert not form.is_valid()
    assert "logo" in form.errors


def test_the_svg_message_from_the_model(reseller) -> None:
    brand = Brand(tenant=reseller, name="CallCo", support_email="help@callco.test")
    brand.logo = SimpleUploadedFile("logo.svg", b"<svg/>")
    with pytest.raises(ValidationError) as error:
        brand.full_clean()
    assert "SVG logos are not accepted" in str(error.value.message_dict["logo"])


def test_another_image_format_is_refused(reseller) -> None:
    form = submit(reseller, SimpleUploadedFile("logo.png", image("GIF")))
    assert not form.is_valid()
    assert "PNG, JPEG or WebP" in str(form.errors["logo"])


def test_a_logo_over_the_size_limit_is_refused(reseller) -> None:
    big = image("PNG", size=(500, 500), noise=True)
    assert len(big) > LOGO_MAX_BYTES
    form = submit(reseller, SimpleUploadedFile("logo.png", big))
    assert not form.is_valid()
    assert "the limit is 512 KB" in str(form.errors["logo"])


def test_a_logo_too_many_pixels_wide_is_refused(reseller) -> None:
    form = submit(reseller, SimpleUploadedFile("logo.png", image("PNG", size=(2400, 10))))
    assert not form.is_valid()
    assert "at most 2000" in str(form.errors["logo"])


def test_colours_must_be_hex(reseller) -> None:
    form = submit(reseller, primary_colour="purple", text_colour="#fff")
    assert not form.is_valid()
    assert "not a colour like #5b21b6" in str(form.errors["primary_colour"])
    assert "not a colour like #5b21b6" in str(form.errors["text_colour"])


def test_text_and_primary_colour_need_a_contrast_of_4_5_to_1(reseller) -> None:
    form = submit(reseller, primary_colour="#7a9cc6", text_colour="#ffffff")
    assert not form.is_valid()
    message = str(form.errors["text_colour"])
    assert "contrast ratio of 2.8:1" in message and "at least 4.5:1" in message


def test_colours_are_stored_in_lower_case(reseller) -> None:
    form = submit(reseller, primary_colour="#5B21B6", text_colour="#FFFFFF")
    assert form.is_valid(), form.errors
    brand = form.save()
    assert (brand.primary_colour, brand.text_colour) == ("#5b21b6", "#ffffff")


def test_a_light_brand_colour_falls_back_to_a_readable_link_colour() -> None:
    yellow = Brand(primary_colour="#fde047", text_colour="#000000")
    assert yellow.theme == {"primary": "#fde047", "ink": "#000000", "link": "#000000"}
    purple = Brand(primary_colour="#5b21b6", text_colour="#ffffff")
    assert purple.theme["link"] == "#5b21b6"
    assert contrast_ratio("#5b21b6", "#f6f8fb") >= 4.5
    broken = Brand(primary_colour="red;}", text_colour="#ffffff")  # written without full_clean
    assert broken.theme["primary"] == "#0b5cad"


def test_only_the_provider_and_resellers_have_a_brand(db) -> None:
    customer = TenantFactory(kind=TenantKind.CUSTOMER)
    brand = Brand(tenant=customer, name="Acme", support_email="a@acme.test")
    with pytest.raises(ValidationError) as error:
        brand.full_clean()
    assert "Only the provider and resellers" in str(error.value.message_dict["tenant"])


def test_host_names_are_lower_cased_and_checked(reseller) -> None:
    brand = Brand.objects.create(tenant=reseller, name="CallCo", support_email="h@callco.test")
    domain = BrandDomain(brand=brand, host="Support.CallCo.Example.")
    domain.full_clean()
    assert domain.host == "support.callco.example"
    domain.save()
    for bad in [
        "https://callco.example",
        "callco.example:8000",
        "callco",
        "-a.example",
        "a b.example",
    ]:
        with pytest.raises(ValidationError):
            BrandDomain(brand=brand, host=bad).full_clean()
    with pytest.raises(ValidationError) as error:
        BrandDomain(brand=brand, host="SUPPORT.callco.example").full_clean()
    assert "already exists" in str(error.value)
