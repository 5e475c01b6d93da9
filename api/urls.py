"""/api/v1/: the REST API and its OpenAPI schema (drf-spectacular; docs for signed-in people)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from api import views, views_docs

app_name = "api"

urlpatterns = [
    path("cases/", views.CaseList.as_view(), name="case-list"),
    path("cases/<str:reference>/", views.CaseDetail.as_view(), name="case-detail"),
    path("cases/<str:reference>/updates/", views.CaseUpdates.as_view(), name="case-updates"),
    path("cases/<str:reference>/clocks/", views.CaseClocks.as_view(), name="case-clocks"),
    path("attachments/<int:pk>/", views.AttachmentDownload.as_view(), name="attachment-download"),
    path("people/", views.People.as_view(), name="people"),
    path("people/<int:user_pk>/active/", views.PersonActive.as_view(), name="person-active"),
    path("customers/", views.Customers.as_view(), name="customers"),
    path("customers/<int:pk>/", views.CustomerDetail.as_view(), name="customer-detail"),
    path("customers/<int:tenant_pk>/people/", views.People.as_view(), name="customer-people"),
    path(
        "customers/<int:tenant_pk>/people/<int:user_pk>/active/",
        views.PersonActive.as_view(),
        name="customer-person-active",
    ),
    path("plan/", views.TierOnePlan.as_view(), name="tier-one-plan"),
    path("webhooks/", views.Webhooks.as_view(), name="webhooks"),
    path("webhooks/<int:pk>/", views.WebhookDetail.as_view(), name="webhook-detail"),
    path("webhooks/<int:pk>/rotate/", views.WebhookRotate.as_view(), name="webhook-rotate"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="schema"),
    path("docs/", views_docs.api_docs, name="docs"),
]
