"""deploy/k8s: kustomize builds it, kubeconform validates it, and it matches the code."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from casegold_sla import load_policy
from tests.ops.tools import DEPLOY, run, tool
from tests.test_docker_compose import PLATFORM, PORTS, settings_types, variables_of

K8S = DEPLOY / "k8s"
WORKLOADS = {"intake": "Deployment", "followup": "Deployment", "reporting": "Deployment"}
WORKLOADS |= {"notifier": "Deployment", "escalation": "StatefulSet"}


@functools.cache
def rendered() -> str:
    return run(tool("kustomize"), "build", str(K8S))


def built() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(rendered()) if doc]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in built() if doc["kind"] == kind}


def workload(name: str) -> dict[str, Any]:
    return by_kind(WORKLOADS[name])[name]


def container(name: str) -> dict[str, Any]:
    (only,) = workload(name)["spec"]["template"]["spec"]["containers"]
    found: dict[str, Any] = only
    return found


def platform_config() -> dict[str, str]:
    data: dict[str, str] = by_kind("ConfigMap")["casegold-platform"]["data"]
    return data


def kubeconform(path: Path) -> str:
    from tests.ops.tools import kubernetes_schemas

    location = f"{kubernetes_schemas()}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json"
    return run(tool("kubeconform"), "-strict", "-summary", "-schema-location", location, str(path))


def test_kubeconform_accepts_the_built_manifests_and_the_example_secrets(tmp_path: Path) -> None:
    manifests = tmp_path / "casegold.yaml"
    manifests.write_text(rendered())
    output = kubeconform(manifests)
    assert f"Valid: {len(built())}, Invalid: 0, Errors: 0, Skipped: 0" in output
    assert "Valid: 4, Invalid: 0" in kubeconform(K8S / "secrets.example.yaml")


def test_kubeconform_refuses_a_broken_manifest(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    deployment = workload("intake")
    deployment["spec"]["replicas"] = "two"
    broken.write_text(yaml.safe_dump(deployment))
    with pytest.raises(pytest.fail.Exception, match="got string, want null or integer"):
        kubeconform(broken)


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_each_workload_has_probes_resources_and_runs_as_non_root(name: str) -> None:
    spec = container(name)
    assert spec["args"] == [f"casegold_{name}"]
    assert spec["ports"] == [{"name": "http", "containerPort": PORTS[name]}]
    assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert spec["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(spec["resources"]["requests"])
    assert {"cpu", "memory"} <= set(spec["resources"]["limits"])
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    pod = workload(name)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_each_pod_is_scraped_on_its_port_with_a_service_label(name: str) -> None:
    template = workload(name)["spec"]["template"]["metadata"]
    assert template["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(PORTS[name]),
        "prometheus.io/path": "/metrics",
    }
    assert template["labels"]["service"] == name
    assert template["labels"]["app.kubernetes.io/part-of"] == "casegold"


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_every_variable_of_a_pod_is_one_of_its_settings(name: str) -> None:
    known = variables_of(*PLATFORM, *settings_types(name))
    names = {entry["name"] for entry in container(name)["env"]} | set(platform_config())
    ours = {variable for variable in names if variable.startswith("CASEGOLD_")}
    assert ours - known == set(), f"{name}: variables no settings class reads"


def test_escalation_workers_keep_state_on_volumes_and_never_outnumber_partitions() -> None:
    workers = workload("escalation")["spec"]
    partitions = int(platform_config()["CASEGOLD_KAFKA_PARTITIONS"])
    assert 1 < workers["replicas"] <= partitions
    assert partitions % workers["replicas"] == 0, "partitions spread evenly over the workers"
    (claim,) = workers["volumeClaimTemplates"]
    env = {entry["name"]: entry for entry in container("escalation")["env"]}
    data_dir = env["CASEGOLD_ESCALATION_DATA_DIR"]["value"]
    mounts = {
        mount["name"]: mount["mountPath"] for mount in container("escalation")["volumeMounts"]
    }
    assert mounts[claim["metadata"]["name"]] == data_dir
    name_from = env["CASEGOLD_ESCALATION_WORKER_NAME"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert name_from == "metadata.name", "each pod is its own worker (own RocksDB folder)"
    assert by_kind("Service")["escalation"]["spec"]["clusterIP"] == "None"
    assert by_kind("PodDisruptionBudget")["escalation"]["spec"]["maxUnavailable"] == 1


def test_the_policy_config_map_is_the_shipped_default_policy(tmp_path: Path) -> None:
    shipped = (DEPLOY / "policy" / "default.yaml").read_text()
    assert (K8S / "policy" / "default.yaml").read_text() == shipped
    (policy_map,) = [m for n, m in by_kind("ConfigMap").items() if n.startswith("casegold-policy")]
    assert policy_map["data"]["policy.yaml"] == shipped
    mounted = {
        volume["name"]: volume
        for volume in workload("intake")["spec"]["template"]["spec"]["volumes"]
    }
    assert mounted["policy"]["configMap"]["name"] == policy_map["metadata"]["name"]
    assert platform_config()["CASEGOLD_POLICY_FILE"] == "/etc/casegold/policies/policy.yaml"
    (tmp_path / "policy.yaml").write_text(policy_map["data"]["policy.yaml"])
    assert load_policy(tmp_path / "policy.yaml") is not None


def test_every_secret_a_pod_reads_is_in_the_example_and_none_is_deployed() -> None:
    assert by_kind("Secret") == {}, "secrets are created by the operator, never shipped"
    example = {
        doc["metadata"]["name"]: set(doc["stringData"])
        for doc in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text())
    }
    for name in WORKLOADS:
        for entry in container(name)["env"]:
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in example.get(ref["name"], set()), f"{name}: {ref}"
