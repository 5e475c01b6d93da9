from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from helpdesk import views

admin.site.site_header = "Phonism helpdesk"
admin.site.site_title = "Phonism helpdesk"
admin.site.index_title = "Support desk"

urlpatterns = [
    path("", views.home, name="home"),
    path("cases/<str:reference>/", views.case_detail, name="case-detail"),
    path("attachments/<int:pk>/", views.download_attachment, name="attachment-download"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
