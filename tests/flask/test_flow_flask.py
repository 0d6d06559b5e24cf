"""Flow-control options pass through the Flask extension's enqueue functions."""

from __future__ import annotations

from flask import Flask

from dbjobq_flask import DBJobQ


def test_flow_flask_unique_key_passes_through(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    app, jobq = app_and_jobq
    with app.app_context():
        first = jobq.enqueue("x.send", {"n": 1}, unique_key="k")
        assert jobq.enqueue("x.send", {"n": 2}, unique_key="k") == first
        ids = jobq.enqueue_many("x.send", [{"n": 3}, {"n": 4}], unique_keys=["k", "other"])
        assert ids[0] == first and ids[1] != first
        found = jobq.get_job(first)
        assert found is not None and found.unique_key == "k"
