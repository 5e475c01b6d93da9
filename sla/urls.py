"""Routes of the SLA report pages, included by helpdesk.urls (the staff dashboard is mounted
inside the admin there)."""

from django.urls import path

from sla import views

urlpatterns = [
    path("reports/sla/", views.report, name="sla-report"),
    path("reports/sla/figures.csv", views.report_csv, name="sla-report-csv"),
    path("reports/sla/cases.csv", views.report_cases_csv, name="sla-report-cases-csv"),
]
