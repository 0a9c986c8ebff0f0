"""Every synchronous error of the submit route, auth and routing: exact status, code, message, shape."""

import pytest

SUBMIT = "/api/v1/services/aigc/text2image/image-synthesis"
HEADERS = {"Authorization": "Bearer sk-test", "X-DashScope-Async": "enable", "Content-Type": "application/json"}


def assert_error(response, status, code, message, content_type="application/json"):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == content_type
    body = response.json()
    assert list(body) == ["code", "message", "request_id"]
    assert (body["code"], body["message"]) == (code, message)
    assert response.headers["x-request-id"] == body["request_id"]
    assert response.headers["server"] == "istio-envoy"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "No API-key provided."),
        ({"Authorization": ""}, "No API-key provided."),
        ({"Authorization": "Bearer"}, "No API-key provided."),
    ],
)
def test_missing_key(server, headers, message):
    # captured 2024-02: the no-key 401 is application/json;charset=UTF-8
    assert_error(server.client.get("/api/v1/tasks/x", headers=headers), 401, "InvalidApiKey", message,
                 "application/json;charset=UTF-8")


def test_rejected_and_unlisted_keys(make_server):
    server = make_server(reject_keys=["sk-revoked"])
    assert_error(server.client.get("/api/v1/tasks/x", headers={"Authorization": "Bearer sk-revoked"}),
                 401, "InvalidApiKey", "Invalid API-key provided.")
    closed = make_server(accept_any_key=False, accounts=[{"id": "a", "keys": ["sk-known"]}])
    assert_error(closed.client.get("/api/v1/tasks/x", headers={"Authorization": "Bearer sk-other"}),
                 401, "InvalidApiKey", "Invalid API-key provided.")
    assert closed.client.get("/api/v1/tasks/x", headers={"Authorization": "Bearer sk-known"}).status_code == 200


def test_auth_comes_before_routing(server):
    assert_error(server.client.get("/api/v1/no/such/route"), 401, "InvalidApiKey", "No API-key provided.",
                 "application/json;charset=UTF-8")


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        (b"{not json", 400, "InvalidParameter", "Required body invalid, please check the request body format."),
        (b"", 400, "InvalidParameter", "Required body invalid, please check the request body format."),
        (b"[1, 2]", 400, "InvalidParameter", "Required body invalid, please check the request body format."),
        (b'{"input": {"prompt": "a"}}', 400, "BadRequest.EmptyModel", 'Required parameter "model" missing from request.'),
        (b'{"model": "", "input": {"prompt": "a"}}', 400, "BadRequest.EmptyModel",
         'Required parameter "model" missing from request.'),
        (b'{"model": "wanx-v1"}', 400, "BadRequest.EmptyInput", "Required input parameter missing from request."),
        (b'{"model": "wanx-v1", "input": "a cat"}', 400, "BadRequest.IllegalInput",
         "The input parameter requires json format."),
        (b'{"model": "wanx-v1", "input": {"prompt": "a"}, "parameters": [1]}', 400, "InvalidParameter",
         "Required parameter(s) missing or invalid, please check the request parameters."),
        (b'{"model": "wanx-v9", "input": {"prompt": "a"}}', 400, "InvalidParameter", "Model not exist."),
        (b'{"model": 42, "input": {"prompt": "a"}}', 400, "InvalidParameter", "Model not exist."),
        (b'{"model": "wanx-v1", "input": {"prompt": "\xff\xfe"}}', 400,
         "InvalidParameter", "Required body invalid, please check the request body format."),
    ],
)
def test_bad_submit_bodies(server, body, status, code, message):
    assert_error(server.client.post(SUBMIT, content=body, headers=HEADERS), status, code, message)


def test_model_on_the_wrong_route(server):
    response = server.client.post("/api/v1/services/aigc/image2image/image-synthesis", headers=HEADERS,
                                  json={"model": "wanx-v1", "input": {"prompt": "a"}})
    assert_error(response, 400, "InvalidParameter",
                 "url error, please check url！ For details, see: https://help.aliyun.com/zh/model-studio/error-code#error-url")


def test_unknown_model_can_answer_model_not_found(make_server):
    server = make_server(unknown_model="ModelNotFound")
    response = server.client.post(SUBMIT, headers=HEADERS, json={"model": "nope", "input": {"prompt": "a"}})
    assert_error(response, 404, "ModelNotFound", "Model can not be found.")


def test_missing_async_header(server):
    headers = {key: value for key, value in HEADERS.items() if key != "X-DashScope-Async"}
    response = server.client.post(SUBMIT, headers=headers, json={"model": "wanx-v1", "input": {"prompt": "a"}})
    assert_error(response, 403, "AccessDenied", "current user api does not support synchronous calls")


def test_body_too_large(make_server):
    server = make_server(max_body_bytes=1000)
    response = server.client.post(SUBMIT, headers=HEADERS,
                                  json={"model": "wanx-v1", "input": {"prompt": "x" * 2000}})
    assert_error(response, 413, "BadRequest.TooLarge", "Payload Too Large")

    def chunks():  # no Content-Length: the limit holds while streaming
        yield b'{"model": "wanx-v1", "input": {"prompt": "'
        for _ in range(10):
            yield b"x" * 200
        yield b'"}}'

    assert_error(server.client.post(SUBMIT, headers=HEADERS, content=chunks()), 413, "BadRequest.TooLarge",
                 "Payload Too Large")


def test_trailing_slashes_are_accepted(server):
    response = server.client.post(SUBMIT + "/", headers=HEADERS, json={"model": "wanx-v1", "input": {"prompt": "a"}})
    assert response.status_code == 200
    task_id = response.json()["output"]["task_id"]
    assert server.client.get(f"/api/v1/tasks/{task_id}/", headers=HEADERS).json()["output"]["task_id"] == task_id
    assert server.client.get("/api/v1/tasks/", headers=HEADERS).json()["total"] == 1


def test_unknown_routes_and_methods_answer_json(server):
    assert_error(server.client.get("/api/v1/nothing/here", headers=HEADERS), 404, "NotFound",
                 "The requested resource does not exist.")
    response = server.client.delete("/api/v1/tasks/abc", headers=HEADERS)
    assert_error(response, 405, "MethodNotAllowed", "The request method is not supported for this resource.")
    assert "GET" in response.headers["allow"]


def test_an_unexpected_exception_is_a_clean_500(server, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(server.emulator, "poll", explode)  # a fault deep in the domain (every query polls)
    response = server.client.get("/api/v1/tasks/x", headers=HEADERS)
    assert_error(response, 500, "InternalError",
                 "An internal error has occured, please try again later or contact service support.")
    assert b"Traceback" not in response.content and b"boom" not in response.content
    assert "boom" in caplog.text  # logged, not sent


def test_the_server_stays_healthy_after_errors(server):
    server.client.post(SUBMIT, content=b"{", headers=HEADERS)
    health = server.client.get("/__mock/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"


def test_an_escaped_lone_surrogate_survives_the_round_trip(server):
    response = server.client.post(SUBMIT, headers=HEADERS,
                                  content=b'{"model": "wanx2.1-t2i-turbo", "input": {"prompt": "a\\ud800b"}}')
    assert response.status_code == 200
    server.advance(60)
    task = server.query(response.json()["output"]["task_id"])
    assert task.status_code == 200
    assert task.json()["output"]["results"][0]["orig_prompt"] == "a\ud800b"
