"""The self-reviews (``kubectl auth can-i``, ``can-i --list``, ``auth whoami``) over real HTTPS, with
real kubectl 1.30 and the kubernetes Python client."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from virtctl.controller.server import auth_reviews

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
KUBECTL = KUBECTL_DIR / "kubectl.1.30"
SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
SSRR = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
SSR = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


def kubectl(api_server: Any, tmp_path: Path, *args: str, binary: Path = KUBECTL) -> subprocess.CompletedProcess[str]:
    if not os.access(binary, os.X_OK):
        pytest.skip(f"{binary} is not installed")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path / binary.name),
           "KUBECONFIG": str(api_server.kubeconfig_path)}
    return subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=60)


def test_kubectl_auth_can_i(api_server, tmp_path):
    r = kubectl(api_server, tmp_path, "auth", "can-i", "create", "virtualmachines")
    assert (r.returncode, r.stdout.strip()) == (0, "yes"), r.stderr
    r = kubectl(api_server, tmp_path, "auth", "can-i", "delete", "vm", "--all-namespaces")
    assert (r.returncode, r.stdout.strip()) == (0, "yes"), r.stderr
    r = kubectl(api_server, tmp_path, "auth", "can-i", "get", "/healthz")
    assert (r.returncode, r.stdout.strip()) == (0, "yes"), r.stderr
    r = kubectl(api_server, tmp_path, "auth", "can-i", "start", "virtualmachines", "--subresource", "start")
    assert r.returncode == 0 and r.stdout.strip() == "yes", r.stderr


def test_kubectl_auth_can_i_list(api_server, tmp_path):
    r = kubectl(api_server, tmp_path, "auth", "can-i", "--list")
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    assert rows[0][:2] == ["Resources", "Non-Resource"]
    assert ["*.*", "[]", "[]", "[*]"] in rows
    assert ["[*]", "[]", "[*]"] in rows


def test_kubectl_auth_whoami(api_server, tmp_path):
    r = kubectl(api_server, tmp_path, "auth", "whoami")
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    assert ["Username", auth_reviews.USERNAME] in rows
    assert ["Groups", "[system:masters", "system:authenticated]"] in rows


def test_kubectl_133_sends_protobuf(api_server, tmp_path):
    """kubectl 1.32+ posts the reviews in Kubernetes' protobuf encoding."""
    binary = KUBECTL_DIR / "kubectl.1.33"
    r = kubectl(api_server, tmp_path, "auth", "can-i", "create", "vm", "--subresource", "status", binary=binary)
    assert (r.returncode, r.stdout.strip()) == (0, "yes"), r.stderr
    r = kubectl(api_server, tmp_path, "auth", "can-i", "--list", "-n", "default", binary=binary)
    assert r.returncode == 0 and ["*.*", "[]", "[]", "[*]"] in [line.split() for line in r.stdout.splitlines()]
    r = kubectl(api_server, tmp_path, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}", binary=binary)
    assert (r.returncode, r.stdout) == (0, auth_reviews.USERNAME), r.stderr


def test_kubectl_api_resources_lists_the_reviews(api_server, tmp_path):
    r = kubectl(api_server, tmp_path, "api-resources", "--api-group", "authorization.k8s.io", "-o", "wide")
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()[1:]}
    assert rows["selfsubjectaccessreviews"] == ["selfsubjectaccessreviews", "authorization.k8s.io/v1", "false",
                                                "SelfSubjectAccessReview", "create"]
    assert rows["selfsubjectrulesreviews"][3:] == ["SelfSubjectRulesReview", "create"]
    r = kubectl(api_server, tmp_path, "api-resources")
    assert r.returncode == 0, r.stderr
    names = {line.split()[0] for line in r.stdout.splitlines()[1:]}
    assert {"selfsubjectreviews", "selfsubjectaccessreviews", "virtualmachines"} <= names
    r = kubectl(api_server, tmp_path, "get", "selfsubjectaccessreviews")
    assert r.returncode == 1 and r.stderr.strip() == ("Error from server (MethodNotAllowed): the server does not "
                                                      "allow this method on the requested resource")


def test_kubernetes_client_access_review(api_server):
    kubernetes = pytest.importorskip("kubernetes")
    api_client = kubernetes.config.new_client_from_config(config_file=str(api_server.kubeconfig_path))
    try:
        api = kubernetes.client.AuthorizationV1Api(api_client)
        body = kubernetes.client.V1SelfSubjectAccessReview(spec=kubernetes.client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=kubernetes.client.V1ResourceAttributes(
                group="kubevirt.io", resource="virtualmachines", verb="create", namespace="default")))
        answer = api.create_self_subject_access_review(body)
        assert answer.status.allowed is True
        assert answer.spec.resource_attributes.resource == "virtualmachines"
        rules = api.create_self_subject_rules_review(kubernetes.client.V1SelfSubjectRulesReview(
            spec=kubernetes.client.V1SelfSubjectRulesReviewSpec(namespace="default")))
        assert rules.status.incomplete is False
        assert [(r.verbs, r.api_groups, r.resources) for r in rules.status.resource_rules] == [(["*"], ["*"], ["*"])]
        who = kubernetes.client.AuthenticationV1Api(api_client).create_self_subject_review(
            kubernetes.client.V1SelfSubjectReview())
        assert who.status.user_info.username == auth_reviews.USERNAME
    finally:
        api_client.close()


def test_access_review_echoes_the_spec_and_is_not_stored(api_server_session):
    spec = {"resourceAttributes": {"namespace": "default", "verb": "get", "group": "kubevirt.io",
                                   "resource": "virtualmachines", "name": "x"}}
    r = api_server_session.request("POST", SSAR + "?dryRun=All", {"spec": spec})
    assert r.status == 201
    assert r.json() == {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                        "metadata": {"creationTimestamp": None}, "spec": spec, "status": {"allowed": True}}
    r = api_server_session.request("POST", SSAR, {"spec": {"nonResourceAttributes": {"path": "/x", "verb": "get"}}})
    assert r.status == 201 and r.json()["status"] == {"allowed": True}
    for method in ("GET", "PUT", "DELETE"):
        r = api_server_session.request(method, SSAR)
        assert (r.status, r.json()["reason"], r.json()["message"]) == (
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    assert api_server_session.request("GET", SSAR + "/x").status == 404
    assert api_server_session.request("POST", "/apis/authorization.k8s.io/v1/namespaces/default/"
                                              "selfsubjectaccessreviews", {"spec": spec}).status == 404


def test_access_review_needs_exactly_one_attribute_set(api_server_session):
    r = api_server_session.request("POST", SSAR, {"spec": {}})
    assert r.status == 422
    body = r.json()
    assert body["message"] == ('SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
                               'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes '
                               'must be specified')
    assert body["reason"] == "Invalid" and body["details"]["kind"] == "SelfSubjectAccessReview"
    assert body["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "spec.resourceAttributes",
                                          "message": 'Invalid value: "null": exactly one of nonResourceAttributes '
                                                     'or resourceAttributes must be specified'}]
    r = api_server_session.request("POST", SSAR, {"spec": {"resourceAttributes": {"verb": "get"},
                                                           "nonResourceAttributes": {"path": "/x", "verb": "get"}}})
    assert r.status == 422
    assert r.json()["message"] == (
        'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.nonResourceAttributes: Invalid value: '
        'authorization.NonResourceAttributes{Path:"/x", Verb:"get"}: cannot be specified in combination with '
        'resourceAttributes')
    r = api_server_session.request("POST", SSAR, {"metadata": {"name": "n"},
                                                  "spec": {"resourceAttributes": {"verb": "get"}}})
    assert r.status == 422
    assert r.json()["message"].startswith('SelfSubjectAccessReview.authorization.k8s.io "" is invalid: metadata: '
                                          'Invalid value: v1.ObjectMeta{Name:"n", GenerateName:"", ')
    assert r.json()["message"].endswith("}: must be empty")


def test_bad_bodies_are_400(api_server_session):
    r = api_server_session.request("POST", SSAR, {"spec": {"resourceAttributes": "pods"}})
    assert (r.status, r.json()["message"]) == (400, (
        'SelfSubjectAccessReview in version "v1" cannot be handled as a SelfSubjectAccessReview: json: cannot '
        'unmarshal string into Go struct field SelfSubjectAccessReviewSpec.spec.resourceAttributes of type '
        'v1.ResourceAttributes'))
    r = api_server_session.request("POST", SSAR, {"spec": {"resourceAttributes": {"verb": 3}}})
    assert (r.status, r.json()["message"]) == (400, (
        'SelfSubjectAccessReview in version "v1" cannot be handled as a SelfSubjectAccessReview: json: cannot '
        'unmarshal number into Go struct field ResourceAttributes.spec.resourceAttributes.verb of type string'))
    r = api_server_session.request("POST", SSAR + "?fieldValidation=Strict",
                                   {"spec": {"resourceAttributes": {"verb": "get", "bogus": 1}}})
    assert (r.status, r.json()["message"]) == (400, (
        'SelfSubjectAccessReview in version "v1" cannot be handled as a SelfSubjectAccessReview: strict decoding '
        'error: unknown field "spec.resourceAttributes.bogus"'))
    r = api_server_session.request("POST", SSAR, {"spec": {"resourceAttributes": {"verb": "get", "bogus": 1}}})
    assert r.status == 201 and r.headers["Warning"] == '299 - "unknown field \\"spec.resourceAttributes.bogus\\""'
    assert r.json()["spec"] == {"resourceAttributes": {"verb": "get"}}
    r = api_server_session.request("POST", SSAR, {"kind": "SelfSubjectReview", "spec": {}})
    assert (r.status, r.json()["message"]) == (
        400, "the kind in the data (SelfSubjectReview) does not match the expected kind (SelfSubjectAccessReview)")
    r = api_server_session.request("POST", SSAR + "?dryRun=Some", {"spec": {"resourceAttributes": {}}})
    assert r.status == 422 and "dryRun" in r.json()["message"]


def test_rules_review(api_server_session):
    r = api_server_session.request("POST", SSRR, {"spec": {"namespace": "default"}})
    assert r.status == 201
    assert r.json() == {"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
                        "metadata": {"creationTimestamp": None}, "spec": {},
                        "status": {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                                   "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                                   "incomplete": False}}
    r = api_server_session.request("POST", SSRR, {"spec": {}})
    assert (r.status, r.json()["reason"], r.json()["message"]) == (400, "BadRequest", "no namespace on request")
    r = api_server_session.request("POST", SSRR, {"spec": {"namespace": ["a"]}})
    assert r.status == 400 and r.json()["message"].endswith(
        "json: cannot unmarshal array into Go struct field SelfSubjectRulesReviewSpec.spec.namespace of type string")
    assert api_server_session.request("GET", SSRR).status == 405


def test_self_subject_review(api_server_session):
    r = api_server_session.request("POST", SSR, {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert r.status == 201
    body = r.json()
    assert body["kind"] == "SelfSubjectReview" and body["metadata"]["creationTimestamp"]
    assert body["status"] == {"userInfo": {"username": auth_reviews.USERNAME,
                                           "groups": ["system:masters", "system:authenticated"]}}
    r = api_server_session.request("POST", SSR, {"apiVersion": "authentication.k8s.io/v1beta1"})
    assert r.status == 400 and "does not match the expected API version" in r.json()["message"]
    assert api_server_session.request("GET", SSR).status == 405


def test_reviews_need_the_token(api_server_session):
    for path in (SSAR, SSRR, SSR):
        r = api_server_session.request("POST", path, {"spec": {"resourceAttributes": {"verb": "get"}}}, token=None)
        assert r.status == 401 and r.json()["reason"] == "Unauthorized"
        r = api_server_session.request("POST", path, {}, token="wrong")
        assert r.status == 401


def test_discovery(api_server_session):
    groups = {g["name"]: g for g in api_server_session.request("GET", "/apis").json()["groups"]}
    for group in ("authorization.k8s.io", "authentication.k8s.io"):
        assert groups[group]["preferredVersion"] == {"groupVersion": f"{group}/v1", "version": "v1"}
        assert api_server_session.request("GET", f"/apis/{group}").json()["kind"] == "APIGroup"
    body = api_server_session.request("GET", "/apis/authentication.k8s.io/v1").json()
    assert body == {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "authentication.k8s.io/v1",
                    "resources": [{"name": "selfsubjectreviews", "singularName": "selfsubjectreview",
                                   "namespaced": False, "kind": "SelfSubjectReview", "verbs": ["create"]}]}
    body = api_server_session.request("GET", "/apis/authorization.k8s.io/v1").json()
    assert [r["name"] for r in body["resources"]] == ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]
    assert api_server_session.request("GET", "/apis/authorization.k8s.io/v1beta1").status == 404
    paths = api_server_session.request("GET", "/").json()["paths"]
    assert "/apis/authorization.k8s.io/v1" in paths and "/apis/authentication.k8s.io" in paths


HOSTILE = ["[]", "3", "null", '"x"', "{", "\xff", '{"spec": []}', '{"spec": null}', '{"status": 5}',
           '{"metadata": []}', '{"metadata": {"labels": {"a": 1}}}', '{"metadata": {"generation": "x"}}',
           '{"metadata": {"generation": 1.5}}', '{"metadata": {"creationTimestamp": "bad"}}',
           '{"metadata": {"creationTimestamp": 3}}', '{"metadata": {"ownerReferences": [1]}}',
           '{"metadata": {"ownerReferences": [{"controller": "y"}]}}', '{"metadata": {"finalizers": "f"}}',
           '{"metadata": {"managedFields": {}}}',
           '{"metadata": {"deletionTimestamp": "2020-01-01T00:00:00Z", "deletionGracePeriodSeconds": 3,'
           ' "ownerReferences": [{"name": "o", "controller": true}]}, "spec": {"resourceAttributes": {}}}',
           '{"spec": {"resourceAttributes": null, "nonResourceAttributes": {"path": 3}}}',
           '{"spec": {"namespace": {}}}']


@pytest.mark.usefixtures("no_traceback_logged")
def test_hostile_bodies_are_4xx(api_server):
    for path in (SSAR, SSRR, SSR):
        for body in HOSTILE:
            r = api_server.request("POST", path, body, headers={"Content-Type": "application/json"})
            assert 400 <= r.status < 500 or r.status == 201, (path, body, r.status, r.body)
            assert r.json()["kind"] in ("Status", "SelfSubjectAccessReview", "SelfSubjectRulesReview",
                                        "SelfSubjectReview")
        for content_type in ("application/vnd.kubernetes.protobuf", "application/yaml", "text/plain"):
            r = api_server.request("POST", path, b"k8s\x00\x0a\x02\xff\xff", headers={"Content-Type": content_type})
            assert r.status in (400, 415), (path, content_type, r.status, r.body)
    r = api_server.request("POST", SSAR, '{"metadata": {"generation": "x"}}')
    assert (r.status, r.json()["message"]) == (400, (
        'SelfSubjectAccessReview in version "v1" cannot be handled as a SelfSubjectAccessReview: json: cannot '
        'unmarshal string into Go struct field ObjectMeta.metadata.generation of type int64'))
