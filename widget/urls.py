from django.urls import path

from widget import views, views_demo, views_manage

urlpatterns = [
    path("widget/embed.js", views.embed_js, name="widget-embed"),
    path("widget/start/", views.start, name="widget-start"),
    path("widget/s/<str:session>/cases/", views.case_list, name="widget-cases"),
    path("widget/s/<str:session>/cases/new/", views.case_new, name="widget-case-new"),
    path("widget/s/<str:session>/cases/<str:reference>/", views.case_detail, name="widget-case"),
    path(
        "widget/s/<str:session>/cases/<str:reference>/reply/",
        views.case_reply,
        name="widget-case-reply",
    ),
    path(
        "widget/s/<str:session>/attachments/<int:pk>/",
        views.attachment,
        name="widget-attachment",
    ),
    path("widget/manage/", views_manage.manage, name="widget-manage"),
    path("widget/manage/keys/new/", views_manage.key_new, name="widget-key-new"),
    path("widget/manage/keys/<int:pk>/rotate/", views_manage.key_rotate, name="widget-key-rotate"),
    path("widget/manage/keys/<int:pk>/revoke/", views_manage.key_revoke, name="widget-key-revoke"),
    path("widget/demo/<slug:portal>/", views_demo.host_portal, name="widget-demo"),
]
