from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views import defaults

from api import errors as api_errors
from api import views_keys as api_keys
from helpdesk import errors, views, views_canned
from intake import views as intake_views
from sla import views as sla_views
from tenants import views as tenant_views
from tenants.forms import BrandedPasswordResetForm, ThrottledAuthenticationForm

# A database outage is a 503 with a "try again" page, anything else the static 500 page. Under
# /api/ each of these answers is JSON with a reason instead of a page (api.errors).
handler500 = api_errors.json_for_api(errors.server_error)
handler404 = api_errors.json_for_api(defaults.page_not_found)

admin.site.site_header = "Phonism helpdesk"
admin.site.site_title = "Phonism helpdesk"
admin.site.index_title = "Support desk"

handler400 = api_errors.json_for_api(views.bad_request)

urlpatterns = [
    path("", views.home, name="home"),
    path("cases/", views.case_list, name="case-list"),
    path("cases/new/", views.case_new, name="case-new"),
    path("cases/<str:reference>/", views.case_detail, name="case-detail"),
    path("cases/<str:reference>/comment/", views.case_comment, name="case-comment"),
    path("cases/<str:reference>/severity/", views.case_severity, name="case-severity"),
    path("cases/<str:reference>/status/", views.case_status, name="case-status"),
    path("cases/<str:reference>/escalate/", views.case_escalate_view, name="case-escalate"),
    path("attachments/<int:pk>/", views.download_attachment, name="attachment-download"),
    path(
        "attachments/<int:pk>/thumbnail/",
        views.attachment_thumbnail_view,
        name="attachment-thumbnail",
    ),
    path("queue/", views.tier_one_queue, name="tier-one-queue"),
    path("queue/assign/", views.queue_assign, name="queue-assign"),
    path("team/", tenant_views.team, name="team"),
    path("team/canned-replies/", views_canned.canned_replies, name="canned-replies"),
    path(
        "team/canned-replies/<int:pk>/",
        views_canned.canned_reply_edit,
        name="canned-reply-edit",
    ),
    path(
        "team/canned-replies/<int:pk>/delete/",
        views_canned.canned_reply_delete,
        name="canned-reply-delete",
    ),
    path("team/<int:user_id>/active/", tenant_views.member_active, name="team-member-active"),
    path("team/<int:user_id>/resend/", tenant_views.member_resend, name="team-member-resend"),
    path("team/<int:user_id>/role/", tenant_views.member_role, name="team-member-role"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=ThrottledAuthenticationForm
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/reset/",
        auth_views.PasswordResetView.as_view(form_class=BrandedPasswordResetForm),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        tenant_views.BrandedPasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "accounts/invitation/<uidb64>/<token>/",
        tenant_views.InvitationAcceptView.as_view(),
        name="invitation-accept",
    ),
    path("healthz", views.healthz, name="healthz"),
    path("intake/email", intake_views.inbound_email, name="intake-email"),
    path("", include("tenants.urls")),
    path("", include("sla.urls")),
    path("admin/sla/dashboard/", admin.site.admin_view(sla_views.dashboard), name="sla-dashboard"),
    path("api/v1/", include("api.urls")),
    path("settings/api-keys/", api_keys.key_list, name="api-keys"),
    path("settings/api-keys/<int:pk>/revoke/", api_keys.key_revoke, name="api-key-revoke"),
    path("", include("widget.urls")),
    path("", include("twofactor.urls")),
    path("admin/", admin.site.urls),
]
