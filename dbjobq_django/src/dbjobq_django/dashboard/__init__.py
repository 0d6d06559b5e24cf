"""The web dashboard in a Django project: ``path("jobs/", include("dbjobq_django.dashboard.urls"))``.

Staff users only (others are sent to the admin login); reading needs ``dbjobq.view_job``, actions the
model permissions (see :data:`views.PERMISSIONS`). CSRF is Django's own.
"""
