"""The Flask dashboard blueprint is closed by default: pages and actions refused until the app says who may."""

from __future__ import annotations

from tests.flask.conftest import AppFactory


def test_flask_dashboard_is_closed_without_an_authorize_callable(make_app: AppFactory) -> None:
    app, jobq = make_app()
    with app.app_context():
        job_id = jobq.enqueue("tests.flask.nothing", {})
    client = app.test_client()
    for path in ("/dbjobq/", "/dbjobq/jobs", f"/dbjobq/jobs/{job_id}", "/dbjobq/queues"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert b"DBJOBQ_DASHBOARD_AUTHORIZE" in response.data
    assert client.post("/dbjobq/jobs/cancel", data={"id": job_id}).status_code == 403
    with app.app_context():
        job = jobq.get_job(job_id)
    assert job is not None and job.status == "pending"


def test_flask_dashboard_authorize_opens_pages_but_not_actions(make_app: AppFactory) -> None:
    asked: list[str] = []

    def authorize(action: str) -> bool:
        asked.append(action)
        return action == "view"

    app, jobq = make_app(DBJOBQ_DASHBOARD_AUTHORIZE=authorize)
    with app.app_context():
        job_id = jobq.enqueue("tests.flask.nothing", {})
    client = app.test_client()
    page = client.get(f"/dbjobq/jobs/{job_id}")
    assert page.status_code == 200 and job_id.encode() in page.data
    assert client.post("/dbjobq/jobs/cancel", data={"id": job_id}).status_code == 403
    assert "view" in asked and any(action != "view" for action in asked)
    with app.app_context():
        job = jobq.get_job(job_id)
    assert job is not None and job.status == "pending"


def test_flask_dashboard_metrics_follow_the_pages_rules(make_app: AppFactory) -> None:
    from tests.metrics_text import value

    closed, _ = make_app()
    assert closed.test_client().get("/dbjobq/metrics").status_code == 403
    app, jobq = make_app(DBJOBQ_DASHBOARD_AUTHORIZE=lambda action: action == "view")
    with app.app_context():
        for _ in range(3):
            jobq.enqueue("tests.flask.nothing", {}, queue="metered")
        pending = len(jobq.list_jobs(status="pending", queue="metered"))
    scraped = app.test_client().get("/dbjobq/metrics")
    assert scraped.status_code == 200
    assert value(scraped.get_data(as_text=True), "dbjobq_jobs", queue="metered", status="pending") == pending == 3
