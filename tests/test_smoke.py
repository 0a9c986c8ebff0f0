"""The emulator answers a submit and a query over real HTTP."""


def test_submit_then_query_pending(server):
    submitted = server.submit(parameters={"n": 2})
    assert submitted.status_code == 200
    task_id = submitted.json()["output"]["task_id"]
    body = server.query(task_id).json()
    assert body["output"]["task_status"] == "PENDING"
    assert body["output"]["task_metrics"] == {"TOTAL": 2, "SUCCEEDED": 0, "FAILED": 0}
