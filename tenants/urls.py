"""Routes of the tenants app, included by helpdesk.urls: brand logos and a reseller's
customer management."""

from django.urls import path

from tenants import views, views_resellers

urlpatterns = [
    path("brand/<int:pk>/logo", views.brand_logo, name="brand-logo"),
    path("customers/", views_resellers.subcustomer_list, name="subcustomer-list"),
    path("customers/new/", views_resellers.subcustomer_new, name="subcustomer-new"),
    path("customers/plan/", views_resellers.tier_one_plan, name="tier-one-plan"),
    path("customers/<int:pk>/", views_resellers.subcustomer_detail, name="subcustomer-detail"),
    path(
        "customers/<int:pk>/active/",
        views_resellers.subcustomer_active,
        name="subcustomer-active",
    ),
    path(
        "customers/<int:pk>/invite/",
        views_resellers.subcustomer_invite,
        name="subcustomer-invite",
    ),
    path(
        "customers/<int:pk>/people/<int:user_id>/active/",
        views_resellers.subcustomer_member_active,
        name="subcustomer-member-active",
    ),
    path(
        "customers/<int:pk>/people/<int:user_id>/resend/",
        views_resellers.subcustomer_member_resend,
        name="subcustomer-member-resend",
    ),
    path(
        "customers/<int:pk>/people/<int:user_id>/role/",
        views_resellers.subcustomer_member_role,
        name="subcustomer-member-role",
    ),
]
